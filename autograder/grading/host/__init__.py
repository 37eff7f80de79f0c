"""The trusted side's processes: isolation, control groups, kernels, the tester, one notebook run."""
