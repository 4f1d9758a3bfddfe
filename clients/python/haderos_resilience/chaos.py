"""Chaos experiments shared with haderctl (work in progress)."""


class ChaosMonkey:
    pass


class ChaosSystem:
    pass


chaos_system = ChaosSystem()
