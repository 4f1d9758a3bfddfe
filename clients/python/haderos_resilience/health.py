"""Health checks shared with haderctl (work in progress)."""


class ServiceConfig:
    pass


class HealthChecker:
    pass


health_checker = HealthChecker()
