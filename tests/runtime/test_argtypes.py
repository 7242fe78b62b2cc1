import argparse

from edgewise.runtime.argtypes import api_keywords


def _api(run, *, out=None, seed=0, data=None):
    return run, out, seed, data


def test_api_keywords_takes_the_options_the_function_accepts_then_the_overrides():
    args = argparse.Namespace(run="r", out="o", seed=3, data="folder", verbose=2, func=print)
    keywords = api_keywords(args, _api, data={"source": "folder"})
    assert keywords == {"run": "r", "out": "o", "seed": 3, "data": {"source": "folder"}}
    assert _api(**keywords) == ("r", "o", 3, {"source": "folder"})
