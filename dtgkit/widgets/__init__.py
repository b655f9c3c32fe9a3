"""ipywidgets views over dtgkit's library functions, one module per lesson.

Widgets here are thin: controls are wired to pure functions (data, testable without any
widget) and to plot functions from :mod:`dtgkit.viz` that return Figures. Every builder returns
its container with extra attributes so tests (and users) can drive it without a browser:

* ``.controls``: dict name -> control widget (set ``.value`` to change it);
* ``.state``: the data computed for the current values.
"""
from __future__ import annotations

from dtgkit.widgets.sampling import sampling_explorer, sampling_explorer_state
from dtgkit.widgets.training import (
                                     geometry_stepper,
                                     geometry_stepper_state,
                                     queue_explorer,
                                     queue_explorer_state,
)
from dtgkit.widgets.weights import (
                                     CUSTOM,
                                     rebalance_weights,
                                     teacher_weights_state,
                                     teacher_weights_widget,
                                     time_weight_update,
)

__all__ = ["CUSTOM", "geometry_stepper", "geometry_stepper_state", "queue_explorer",
           "queue_explorer_state", "rebalance_weights", "sampling_explorer",
           "sampling_explorer_state", "teacher_weights_state", "teacher_weights_widget",
           "time_weight_update"]
