"""A TOML configuration parsed with tomlkit at start-up, keeping comments and layout; the main
block reads it, edits it and writes it back out. Needs: tomlkit."""
import tomlkit

SOURCE = """\
# Deployment configuration
title = "inventory"   # shown in the dashboard

[server]
host = "127.0.0.1"
port = 8080
workers = 4

[database]
url = "sqlite:///inventory.db"
pool = { size = 5, timeout = 30 }

[[jobs]]
name = "nightly-report"
cron = "0 2 * * *"
"""

CONFIG = tomlkit.parse(SOURCE)

if __name__ == "__main__":
    print(CONFIG["title"], CONFIG["server"]["port"] + 1, CONFIG["database"]["pool"]["size"])
    print(CONFIG.unwrap()["jobs"])
    CONFIG["server"]["workers"] = 8
    CONFIG["server"]["workers"].comment("doubled for launch")
    job = tomlkit.table()
    job.add("name", "cleanup")
    job.add("cron", "30 3 * * 0")
    CONFIG["jobs"].append(job)
    CONFIG.add(tomlkit.nl())
    CONFIG.add("features", {"beta": True, "regions": ["eu", "us"]})
    print(tomlkit.dumps(CONFIG))
    print(tomlkit.dumps(CONFIG).startswith(SOURCE.splitlines()[0]), type(CONFIG["server"]).__name__)
