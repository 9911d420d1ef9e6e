from interplay.detect import change_point, median, proportion_z, ratio, robust_z


def test_change_point_finds_the_shift():
    values = [1.0, 1.1, 0.9, 1.0, 1.05, 5.0, 5.2, 4.9, 5.1]
    assert change_point(values) == 5


def test_change_point_short_series():
    assert change_point([1.0, 2.0]) is None


def test_change_point_weights_discount_sparse_buckets():
    values = [0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    assert change_point(values, [100, 100, 1, 100, 100, 100, 100, 100]) == 5


def test_robust_statistics():
    assert median([3, 1, 2]) == 2
    assert robust_z([10, 10, 10, 10], 10) == 0
    assert robust_z([10, 11, 9, 10], 30) > 10
    assert robust_z([0.0, 0.0, 0.0], 1.0, floor=0.5) == 2.0
    assert proportion_z(1, 1000, 100, 1000) > 5
    assert proportion_z(10, 1000, 10, 1000) == 0
    assert ratio(10, 0) > 1e6 and ratio(None, 3) == 1.0


def test_exact_proportion_z_does_not_call_a_handful_of_errors_certain():
    from interplay.detect import exact_proportion_z
    # three marks in 29 requests against 7 in 1,492: the normal approximation says 6.5 sigma
    assert proportion_z(7, 1492, 3, 29) > 6
    assert 2.5 < exact_proportion_z(7, 1492, 3, 29) < 4
    # with plenty of requests the two agree
    assert abs(exact_proportion_z(50, 1000, 120, 1000) - proportion_z(50, 1000, 120, 1000)) < 0.6
    assert exact_proportion_z(10, 100, 10, 100) < 1 and exact_proportion_z(0, 0, 1, 1) == 0.0
