"""structlog configured once at start-up (processors, a key-value renderer, context binding)
writing to standard output; the main block logs a request's events. Needs: structlog."""
import logging
import sys

import structlog


def add_service(logger, method_name, event_dict):
    event_dict["service"] = "orders"
    return event_dict


structlog.configure(
    processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                add_service, structlog.processors.StackInfoRenderer(),
                structlog.processors.format_exc_info,
                structlog.processors.KeyValueRenderer(key_order=["level", "event"], sort_keys=True)],
    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
    cache_logger_on_first_use=True,
)
log = structlog.get_logger("orders").bind(version="1.4")

if __name__ == "__main__":
    structlog.contextvars.bind_contextvars(request_id="r-17")
    log.info("order received", order_id=42, items=3)
    log.debug("not shown")
    child = log.bind(customer="ada")
    child.warning("payment slow", ms=950)
    try:
        {}["missing"]
    except KeyError:
        child.error("lookup failed", exc_info=False, key="missing")
    structlog.contextvars.clear_contextvars()
    log.info("done", ok=True)
