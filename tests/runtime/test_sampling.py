import numpy as np

from edgewise.runtime.sampling import class_orders, fraction_per_class, stratified_indices


def test_stratified_sample_keeps_class_proportions():
    labels = np.array([0] * 600 + [1] * 300 + [2] * 100)
    picked = labels[stratified_indices(labels, 100, seed=3)]
    assert np.bincount(picked, minlength=3).tolist() == [60, 30, 10]


def test_every_class_is_represented_even_when_rare():
    labels = np.array([0] * 990 + [1] * 9 + [2] * 1)
    picked = labels[stratified_indices(labels, 10, seed=0)]
    assert set(picked.tolist()) == {0, 1, 2}
    assert len(picked) == 10


def test_fewer_items_than_classes_pick_seeded_classes_not_the_lowest():
    labels = np.repeat(np.arange(10), 20)
    firsts = {int(labels[stratified_indices(labels, 1, seed=s)][0]) for s in range(30)}
    assert len(firsts) > 3


def test_sample_is_seeded_and_smaller_samples_are_prefixes():
    labels = np.random.default_rng(0).integers(0, 5, 2000)
    a = stratified_indices(labels, 300, seed=7)
    assert np.array_equal(a, stratified_indices(labels, 300, seed=7))
    assert not np.array_equal(a, stratified_indices(labels, 300, seed=8))
    assert np.array_equal(stratified_indices(labels, 100, seed=7), a[:100])
    assert len(set(a.tolist())) == 300


def test_sample_larger_than_data_takes_everything():
    labels = np.array([1, 0, 1])
    assert sorted(stratified_indices(labels, 50, seed=0).tolist()) == [0, 1, 2]
    assert stratified_indices(labels, 0, seed=0).size == 0
    assert stratified_indices(np.zeros(0, np.int64), 5, seed=0).size == 0


def test_fraction_per_class_rounds_per_class_and_keeps_one_of_small_classes():
    labels = np.array([0] * 10 + [1] * 3 + [2] * 2 + [3] * 1)
    held = fraction_per_class(labels, 0.2, seed=1)
    assert np.bincount(labels[held], minlength=4).tolist() == [2, 1, 1, 0]
    assert np.array_equal(held, np.sort(held))
    assert np.array_equal(held, fraction_per_class(labels, 0.2, seed=1))
    assert fraction_per_class(labels, 0.0, seed=1).size == 0


def test_both_ways_take_the_first_members_of_the_same_seeded_class_orders():
    labels = np.random.default_rng(2).integers(0, 6, 500)
    orders = class_orders(labels, np.random.default_rng(11))
    assert [int(labels[o[0]]) for o in orders] == sorted(set(labels.tolist()))
    sample = stratified_indices(labels, 120, seed=11)
    held = fraction_per_class(labels, 0.3, seed=11)
    for members in orders:
        cls = labels[members[0]]
        picked = sample[labels[sample] == cls]
        assert set(picked.tolist()) == set(members[: len(picked)].tolist())
        in_split = held[labels[held] == cls]
        assert set(in_split.tolist()) == set(members[: len(in_split)].tolist())
