"""A Django form layer configured without a database: settings, a form with custom validation,
a formset, and templates rendered with the form, in one file. Needs: django."""
import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="not-a-secret-just-a-demo",
    USE_I18N=True,
    LANGUAGE_CODE="en-us",
    INSTALLED_APPS=["django.contrib.contenttypes"],
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": False}],
    FORM_RENDERER="django.forms.renderers.DjangoTemplates",
)
django.setup()

from django import forms
from django.core.exceptions import ValidationError
from django.template import engines


class SignupForm(forms.Form):
    username = forms.SlugField(max_length=20)
    email = forms.EmailField()
    age = forms.IntegerField(min_value=13, required=False)
    plan = forms.ChoiceField(choices=[("free", "Free"), ("pro", "Pro")], initial="free")

    def clean(self):
        data = super().clean()
        if data.get("plan") == "pro" and not data.get("age"):
            raise ValidationError("Pro accounts need an age.")
        return data


class TagForm(forms.Form):
    tag = forms.CharField(max_length=10)


TagFormSet = forms.formset_factory(TagForm, extra=0, min_num=1, validate_min=True)
PAGE = engines["django"].from_string(
    "{% for field in form %}{{ field.label }}={{ field.value|default_if_none:'' }};{% endfor %}"
    "{% if form.errors %} errors: {{ form.errors.as_text|linebreaksbr }}{% endif %}")

if __name__ == "__main__":
    for data in [{"username": "ada-l", "email": "ada@example.org", "plan": "free"},
                 {"username": "bob smith", "email": "bob@", "age": "9", "plan": "gold"},
                 {"username": "cy", "email": "cy@example.org", "plan": "pro"}]:
        form = SignupForm(data)
        print(form.is_valid(), sorted(form.errors), form.cleaned_data if form.is_valid() else "")
        print(PAGE.render({"form": form}).replace("\n", " "))
    print(str(SignupForm()["plan"]))
    formset = TagFormSet({"form-TOTAL_FORMS": "2", "form-INITIAL_FORMS": "0",
                          "form-0-tag": "python", "form-1-tag": "far-too-long-tag"})
    print(formset.is_valid(), [f.errors.get("tag") for f in formset])
