"""The benchmark orchestrator's parts: runners and their environments, processes, phases, statistics, report."""
