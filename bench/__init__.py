"""Benchmarks of the buffer subsystem against the limit (numpy, raw Vulkan) and peers.

Run ``python -m bench [--quick] [--only NAME] [--device NAME]`` (or ``make bench``); see
:mod:`bench.cli` for the options, :mod:`bench.timing` for the method and BENCHMARKS.md for the
results. One module per figure family: ``fig_update``, ``fig_staged``, ``fig_frame``,
``fig_binding``, ``fig_churn``, ``fig_game``.
"""
