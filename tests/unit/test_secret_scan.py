"""Fast layer: the secret scan's shapes, in-process (the end-to-end cases: tests/test_secrets.py)."""


def test_prose_that_mentions_a_secret_word_is_no_assignment():
    """more-itertools' peekable docstring ("Pass :meth:`peek` a default value...") was refused."""
    from amber.capture.policy.secret_shapes import named_in_text

    assert named_in_text("    Pass :meth:`peek` a default value to return", set(), ()) is None
    assert named_in_text("token: see the docs for how to get one", set(), ()) is None
    assert named_in_text("DB_PASSWORD=hunter2hunter2xx\n", set(), ()) == ("DB_PASSWORD", "hunter2hunter2xx")
    assert named_in_text("https://x/?access_token=abcDEF123456789&x=1", set(), ()) == \
        ("access_token", "abcDEF123456789")
    assert named_in_text('{"password_bytes":"IAmSensitiveBytes"}', set(), ()) is None  # pydantic's docs


def test_names_and_words_under_secret_names_are_no_secrets():
    """Django's SESSION_KEY = "_auth_user_id" and a template lexer's Token.token were refused."""
    from amber.capture.policy.secret_shapes import plausible, secret_name

    assert secret_name("SESSION_KEY") and not plausible("_auth_user_id") and not plausible("_csrftoken")
    assert not secret_name("token") and not secret_name("filter_token")  # a lexer's, as often as not
    assert secret_name("access_token") and secret_name("refreshToken") and secret_name("GITHUB_TOKEN")
    assert not plausible("not-a-secret-just-for-tests") and not plausible("IAmSensitiveBytes")
    assert plausible("xKqPzLmWnRtYvBsQ") and plausible("hunter2hunter2xx") and plausible("s3cr3t-P4ss!")


def test_the_lowered_name_search_finds_what_the_case_blind_one_does():
    """The bytes scan looks for a secret's name in lower-cased bytes, case-sensitively: the same
    hits as the case-insensitive search of the name hint, in every case and at every place."""
    from amber.capture.policy import secret_scan as S
    from amber.capture.policy.secret_shapes import SECRET_NAME_HINT

    rest = SECRET_NAME_HINT.pattern.removeprefix("(?i)")
    assert SECRET_NAME_HINT.pattern.startswith("(?i)") and rest == rest.lower()  # what the rule needs
    samples = [b"", b"x", b"PASSWORD=", b"Db_PassPhrase : x", b"api_KEY\t=", b"TOKEN'=", b"Credentials:",
               b"pwd = 1", b"PW:", b"keyboard", b"the secret is", b"\xc3\x89SECRET=", b"k\x00ey=",
               b"SeCrEt\"\t:", b"passwor=", b"PASSWD =x" * 3]
    for sample in samples:
        for value in (sample, bytearray(sample), memoryview(sample)):
            assert S._names_a_secret(value) == (S._BYTE_NAME_HINT.search(value) is not None), sample


def test_what_the_author_wrote_is_judged_alike_with_or_without_the_name_search():
    """Code and docstrings (literal) are not searched for a secret's name before "=": only a
    guess would use it, and literal text is never guessed at. Keys and tokens by shape are still
    found there, and a name with a plausible value is still found elsewhere."""
    from amber.capture.policy.secret_scan import SecretScanner

    scanner = SecretScanner(set())
    named = b"x\n[db]\npassword = hunter2hunter2xx\n"
    assert scanner.check(named) is not None and scanner.check(named, True) is None
    assert scanner.check(named.decode(), True) is None  # the same for the text itself
    pem = b"-----BEGIN PRIVATE KEY-----\n" + b"A" * 64 + b"\npassword = hunter2hunter2xx\n"
    assert scanner.check(pem, True) is not None and "PEM" in scanner.check(pem, True)
