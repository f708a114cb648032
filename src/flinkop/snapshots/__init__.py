"""FlinkStateSnapshot resources: how the operator names, labels and creates them, and their controller."""
