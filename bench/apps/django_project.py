"""App 2, a Django project start: ``django.setup()`` with several apps, the URL resolver and the
template engine warmed; then it renders one page through the test client."""

import os
import sys

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-only-not-secret",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                    "django.contrib.sessions", "django.contrib.messages", "django.contrib.staticfiles",
                    "django.contrib.humanize", "django.contrib.sitemaps"],
    MIDDLEWARE=["django.middleware.security.SecurityMiddleware",
                "django.contrib.sessions.middleware.SessionMiddleware",
                "django.middleware.common.CommonMiddleware",
                "django.contrib.auth.middleware.AuthenticationMiddleware",
                "django.contrib.messages.middleware.MessageMiddleware"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": True,
                "OPTIONS": {"context_processors": ["django.template.context_processors.request",
                                                   "django.contrib.auth.context_processors.auth",
                                                   "django.contrib.messages.context_processors.messages"]}}],
    STATIC_URL="/static/",
    USE_TZ=True,
)
django.setup()

from django.contrib import admin  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import include, path, resolve, reverse  # noqa: E402

PAGE = engines["django"].from_string(
    "{% load humanize %}<h1>{{ title }}</h1><ul>{% for a in items %}<li>{{ a.name|title }}: "
    "{{ a.count|intcomma }}</li>{% endfor %}</ul>")


def article(request, year, slug):
    return HttpResponse(PAGE.render({"title": f"{year} {slug}",
                                     "items": [{"name": f"item {i}", "count": i * 1000} for i in range(3)]}))


urlpatterns = [path("admin/", admin.site.urls)] + [
    path(f"blog{i}/", include([path("<int:year>/<slug:slug>/", article, name=f"article-{i}")]))
    for i in range(150)]
reverse("article-0", kwargs={"year": 1, "slug": "warm"})  # builds the resolver's reverse dictionary
resolve("/blog0/1/warm/")
CLIENT = Client()


def main() -> None:
    response = CLIENT.get(reverse("article-120", kwargs={"year": 2024, "slug": "hello"}))
    print(response.status_code, response.content.decode())
    print(resolve("/admin/auth/user/").url_name)
    if os.environ.get("AMBER_BENCH_HOLD"):  # the suite measures memory while it waits here
        sys.stdout.flush()
        sys.stdin.read()


if __name__ == "__main__":
    main()
