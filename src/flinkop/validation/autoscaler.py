"""Autoscaler configuration rules (upstream ``AutoscalerValidator``), checked when the autoscaler is on."""

from __future__ import annotations

from flinkop.config.values import java_double_str
from flinkop.validation import _options as opt
from flinkop.validation._calendar import period_expression_error
from flinkop.validation._flink_config import ConfigOption, ConfigValueError, FlinkConfig


def autoscaler_error(conf: FlinkConfig, operator_conf: FlinkConfig) -> str | None:
    """The first autoscaler option out of range, in upstream's order; None if the autoscaler is off.

    ``conf`` is the resource's effective configuration; ``operator_conf`` the operator's own,
    where the (system) reconcile interval is read.
    """
    if not conf.get_bool(opt.AUTOSCALER_ENABLED):
        return None
    # Read before the checks, as upstream does: an unparseable target fails the whole validation.
    target = conf.get_double(opt.UTILIZATION_TARGET)
    ranges: tuple[tuple[ConfigOption, float | None, float | None], ...] = (
        (opt.MAX_SCALE_DOWN_FACTOR, 0.0, None),
        (opt.MAX_SCALE_UP_FACTOR, 0.0, None),
        (opt.UTILIZATION_TARGET, 0.0, 1.0),
        (opt.TARGET_UTILIZATION_BOUNDARY, 0.0, None),
        (opt.UTILIZATION_MAX, target, 1.0),
        (opt.UTILIZATION_MIN, 0.0, target),
        (opt.OBSERVED_SCALABILITY_COEFFICIENT_MIN, 0.01, 1.0),
        # The memory thresholds are ranged in the newest upstream only (message format as above).
        (opt.GC_PRESSURE_THRESHOLD, 0.0, 1.0),
        (opt.HEAP_USAGE_THRESHOLD, 0.0, 1.0),
    )
    for option, low, high in ranges:
        if error := _range_error(conf, option, low, high):
            return error
    for expression in conf.get_list(opt.EXCLUDED_PERIODS):
        if error := period_expression_error(expression, opt.EXCLUDED_PERIODS.key):
            return error
    return _metrics_window_error(conf, operator_conf)


def _range_error(
    conf: FlinkConfig, option: ConfigOption, low: float | None, high: float | None
) -> str | None:
    try:
        value = conf.get_double(option)
    except ConfigValueError:
        return f"Invalid value in the autoscaler config {option.key}"
    if value is None or not ((low is not None and value < low) or (high is not None and value > high)):
        return None
    shown_low = "-Infinity" if low is None else java_double_str(low)
    shown_high = "+Infinity" if high is None else java_double_str(high)
    return (
        f"The AutoScalerOption {option.key} is invalid, it should be a value within the range "
        f"[{shown_low}, {shown_high}]"
    )


def _metrics_window_error(conf: FlinkConfig, operator_conf: FlinkConfig) -> str | None:
    """Message ours: the metrics window must cover at least one reconcile interval."""
    window = conf.get_duration_nanos(opt.METRICS_WINDOW)
    interval = operator_conf.get_duration_nanos(opt.RECONCILE_INTERVAL)
    if window is None or interval is None or window >= interval:
        return None
    return (
        f"The AutoScalerOption {opt.METRICS_WINDOW.key} is invalid, it must not be shorter than "
        f"{opt.RECONCILE_INTERVAL.key} ({conf.get_string(opt.METRICS_WINDOW)} < "
        f"{operator_conf.get_string(opt.RECONCILE_INTERVAL)})"
    )
