"""The runtime: applies engine decisions durably, runs tasks, fires timers, recovers after a crash."""

from fnflow.runtime.runtime import Runtime

__all__ = ["Runtime"]
