"""A small Django project configured in one file: settings, two apps' URLconfs, templates.
Needs: django."""
import os
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="not-a-secret-just-for-tests",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=["*"],
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": False,
                "OPTIONS": {"string_if_invalid": "?"}}],
    USE_TZ=True,
)
django.setup()

from django.http import HttpResponse
from django.urls import path, reverse, resolve
from django.template import engines

def article(request, year, slug):
    return HttpResponse(f"{year}/{slug}")

def home(request):
    return HttpResponse("home")

urlpatterns = [path("", home, name="home")] + [
    path(f"blog/{i}/<int:year>/<slug:slug>/", article, name=f"article-{i}") for i in range(200)]
TEMPLATE = engines["django"].from_string("{% for a in items %}<li>{{ a|upper }}</li>{% endfor %} {{ missing }}")
from django.contrib.auth.models import User
if __name__ == "__main__":
    print(reverse("article-150", kwargs={"year": 2024, "slug": "hello-world"}))
    m = resolve("/blog/7/1999/party/")
    print(m.url_name, m.kwargs, m.func.__name__)
    print(TEMPLATE.render({"items": ["x", "y"]}))
    print(User._meta.get_field("username").max_length, User.objects.model.__name__)
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    User.objects.create(username="ann")
    print(list(User.objects.values_list("username", flat=True)))
