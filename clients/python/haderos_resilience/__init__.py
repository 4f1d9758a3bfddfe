"""haderos_resilience: the HaderOS Python services' side of haderctl's
resilience engine. The same Redis state, the same Lua scripts (the
repository's .lua files), the seed's names:

    circuit_breaker(name)          async context manager / decorator
    CircuitBreakerOpenException    raised when the breaker refuses a call
    LocalQueueFallback             queue_failed_operation, get_system_status
    health_checker, ServiceConfig  register_service, start_monitoring,
                                   is_service_healthy
    chaos_system                   enable_chaos, get_chaos_monkey, stop_all,
                                   run_game_days_scenario

configure(redis_url=..., namespace=...) or the environment (REDIS_URL,
HADERCTL_NAMESPACE) points every part at the Redis haderctl uses.
"""

from ._core import (SCHEMA_VERSION, Keys, RedisUnavailableError, SchemaError, Settings, check_schema,
                    configure, get_redis, redact, settings)
from .circuit_breaker import (BreakerCorruptError, BreakerSettings, CircuitBreaker, CircuitBreakerOpenException,
                              circuit_breaker, get_breaker_status)
from .queue import LocalQueueFallback, Priority
from .health import HealthChecker, ServiceConfig, health_checker
from .chaos import ChaosMonkey, ChaosRefusedError, ChaosSystem, chaos_system

__all__ = [
    "SCHEMA_VERSION", "Keys", "RedisUnavailableError", "SchemaError", "Settings", "check_schema", "configure",
    "get_redis", "redact", "settings",
    "BreakerCorruptError", "BreakerSettings", "CircuitBreaker", "CircuitBreakerOpenException", "circuit_breaker",
    "get_breaker_status",
    "LocalQueueFallback", "Priority",
    "HealthChecker", "ServiceConfig", "health_checker",
    "ChaosMonkey", "ChaosRefusedError", "ChaosSystem", "chaos_system",
]
