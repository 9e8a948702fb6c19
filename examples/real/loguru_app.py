"""loguru configured at start-up: the default sink replaced by a stdout sink with a fixed format,
a filter, a bound logger and a custom level; the main block logs through it. Needs: loguru."""
import sys

from loguru import logger

logger.remove()
logger.level("AUDIT", no=25, icon="A")
logger.add(sys.stdout, format="{level: <8} | {extra[component]: <6} | {message}",
           level="DEBUG", filter=lambda record: "secret" not in record["message"], colorize=False,
           backtrace=False, diagnose=False)
log = logger.bind(component="core")
db_log = logger.bind(component="db")


@log.catch(reraise=False, message="worker crashed")
def worker(n):
    return 10 / n


if __name__ == "__main__":
    log.info("starting with {} workers", 3)
    db_log.debug("pool size={size}", size=5)
    log.log("AUDIT", "user {user} logged in", user="ada")
    log.warning("the secret is 42")
    worker(0)
    with logger.contextualize(component="job"):
        logger.success("job finished")
    log.opt(lazy=True).info("expensive {}", lambda: sum(range(10)))
