"""A prompt_toolkit REPL: a nested completer, key bindings and a validator built at start-up; the
main block feeds the session typed input through a pipe, as its tests do. Needs: prompt_toolkit (prompt-toolkit)."""
from prompt_toolkit import PromptSession
from prompt_toolkit.completion import NestedCompleter
from prompt_toolkit.document import Document
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.key_binding import KeyBindings
from prompt_toolkit.output import DummyOutput
from prompt_toolkit.validation import ValidationError, Validator

COMMANDS = {"show": {"users": None, "groups": None, "version": None},
            "add": {"user": None, "group": None}, "quit": None}
completer = NestedCompleter.from_nested_dict(COMMANDS)
bindings = KeyBindings()


@bindings.add("c-t")
def _(event):
    event.current_buffer.insert_text("show users")


class CommandValidator(Validator):
    def validate(self, document):
        words = document.text.split()
        if words and words[0] not in COMMANDS:
            raise ValidationError(message=f"unknown command {words[0]}", cursor_position=0)


STATE = {"users": ["ada"], "groups": ["admins"]}


def execute(line):
    words = line.split()
    if words[:1] == ["show"]:
        return ", ".join(STATE.get(words[1], ["1.0"])) if len(words) > 1 else "show what?"
    if words[:1] == ["add"]:
        STATE[words[1] + "s"].append(words[2])
        return f"added {words[2]}"
    return "bye"


if __name__ == "__main__":
    for text in ["sh", "show g", "add ", "q"]:
        doc = Document(text, len(text))
        print(repr(text), [c.text for c in completer.get_completions(doc, None)])
    with create_pipe_input() as pipe:
        session = PromptSession(input=pipe, output=DummyOutput(), completer=completer,
                                key_bindings=bindings, validator=CommandValidator())
        for keys in ["\x14\r", "add user bob\r", "show users\r", "show version\r", "quit\r"]:
            pipe.send_text(keys)
            line = session.prompt("> ")
            print(f"> {line}\n{execute(line)}")
    print(len(session.history.get_strings()), session.history.get_strings()[-1])
