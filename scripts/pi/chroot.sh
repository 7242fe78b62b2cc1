# Sourced by scripts/pi-check: mounts into the chroot, and running commands in it as a given Pi CPU.

# Every mount point at or below $1, deepest first, unmounted (lazily if busy). Safe to call twice.
unmount_below() {
  local dir=$1 mnt
  awk -v d="$dir" '$2 == d || index($2, d "/") == 1 {print $2}' /proc/mounts | sort -r |
    while read -r mnt; do
      umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done
}

# Only /proc: the rootfs has its own /dev nodes from debootstrap, and nothing else of the host's is needed.
mount_pi_filesystems() {
  mount -t proc proc "$1/proc"
}

# ONNX Runtime and LiteRT read /proc/cpuinfo to pick kernels; the host's x86 one makes them crash at
# start-up under qemu, so a Pi 4 / Pi 5 one is bind-mounted over it.
mount_cpuinfo() {
  mount --bind -o ro "$2" "$1/proc/cpuinfo"
}

unmount_cpuinfo() {
  umount "$1/proc/cpuinfo"
}

# A clean environment (no PIP_* or proxies of the host) and a pinned CPU model: qemu's default "max"
# has SVE, with which LiteRT's int8 kernels gave wrong results; cortex-a72/-a76 are the Pi 4/Pi 5 cores.
in_pi() {
  local root=$1 cpu=$2
  shift 2
  env -i HOME=/root LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin QEMU_CPU="$cpu" \
    TF_CPP_MIN_LOG_LEVEL=2 "$(command -v chroot)" "$root" "$@"
}

# The host's own figures for the same bundle (raw outputs, bench, predict), and the image that
# `edgewise predict` gets on both sides.
run_on_host() {
  local py=$1 bundle=$2 out=$3 sample model
  sample="$(dirname "$bundle")/sample.png"
  mkdir -p "$out"
  "$py" "$HERE/pi/outputs.py" "$bundle" "$out" 2>"$out/outputs.log" \
    || { cat "$out/outputs.log" >&2; die "the host could not run the bundle"; }
  "$py" -m edgewise bench "$bundle" --runs 5 --warmup 1 --label host --out "$out/bench" >"$out/bench.log" 2>&1 \
    || { tail -n 20 "$out/bench.log" >&2; die "edgewise bench failed on the host"; }
  "$py" - "$bundle/parity.npz" "$sample" <<'PY'
import sys
import numpy as np
from PIL import Image
image = np.load(sys.argv[1], allow_pickle=False)["images"][0]
Image.fromarray(image.squeeze(-1) if image.shape[-1] == 1 else image).save(sys.argv[2])
PY
  for model in "$bundle"/model_*.tflite "$bundle"/model_*.onnx; do
    [ -f "$model" ] || continue
    "$py" -m edgewise predict "$model" "$sample" --json --top 3 >"$out/predict-$(basename "$model").json" \
      || die "edgewise predict $(basename "$model") failed on the host"
  done
}
