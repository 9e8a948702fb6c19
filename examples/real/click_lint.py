"""A click command-line linter for a service configuration: options with defaults, a custom
parameter type, colour-free output; it exits with the number of problems found. Needs: click."""
import click

DEFAULT_CONFIG = {
    "service": {"name": "billing", "port": "80800", "replicas": "0"},
    "database": {"url": "postgres://db/billing", "pool": "5"},
    "features": {"beta": "yes", "legacy": "maybe"},
}

RULES = []


def rule(fn):
    RULES.append(fn)
    return fn


@rule
def port_in_range(cfg):
    port = int(cfg["service"]["port"])
    if not 0 < port < 65536:
        yield f"service.port {port} is out of range"


@rule
def has_replicas(cfg):
    if int(cfg["service"]["replicas"]) < 1:
        yield "service.replicas must be at least 1"


@rule
def booleans(cfg):
    for key, value in sorted(cfg["features"].items()):
        if value not in ("yes", "no"):
            yield f"features.{key}: {value!r} is not yes/no"


class Severity(click.ParamType):
    name = "severity"
    levels = {"info": 0, "warning": 1, "error": 2}

    def convert(self, value, param, ctx):
        if isinstance(value, int):
            return value
        if value not in self.levels:
            self.fail(f"{value!r} is not one of {', '.join(self.levels)}", param, ctx)
        return self.levels[value]


@click.command()
@click.option("--section", "sections", multiple=True, help="Only check these sections.")
@click.option("--min-severity", type=Severity(), default="warning", show_default=True)
@click.option("--quiet", is_flag=True)
@click.version_option("2.1.0", prog_name="cfglint")
def lint(sections, min_severity, quiet):
    """Check the configuration and print one line per problem."""
    problems = [p for r in RULES for p in r(DEFAULT_CONFIG)]
    if sections:
        problems = [p for p in problems if p.split(".")[0] in sections]
    if not quiet:
        click.echo(f"checked {len(RULES)} rules at severity >= {min_severity}")
        for p in problems:
            click.echo(f"  - {p}")
    click.echo(click.style(f"{len(problems)} problem(s)", bold=True), color=False)
    raise SystemExit(len(problems))


if __name__ == "__main__":
    lint()
