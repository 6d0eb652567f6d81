"""Naming the defect: which defect a defective frame shows, from the gate's native-pixel evidence (docs/naming.md)."""
