"""`framework-advisor`: recommend, chat, parse, decisions, knowledge, serve, backup, run.

User errors never print a traceback: they print one line on stderr and exit 2 (1 for a
knowledge check that finds broken references).
"""

from __future__ import annotations

import atexit
import getpass
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from bot.models import DECISION_STATUSES
from bot.render import explain, madr, terminal
from knowledge import loader
from rules.answers import AnswerError

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def _store(db: str | None):
    from bot.store import Store

    try:
        return Store(db)
    except Exception as e:  # noqa: BLE001 - an unusable path is a user error, not a crash
        _fail(f"cannot open the database {db or 'default'}: {e}")


db_option = click.option("--db", envvar="FRAMEWORK_ADVISOR_DB", default=None,
                         help="SQLite database path (default: $FRAMEWORK_ADVISOR_DB or ~/.local/share/...).")
team_option = click.option("--team", default="local", show_default=True, help="Team id (local = terminal).")


class _Group(click.Group):
    def main(self, *args, **kwargs):  # noqa: D401 - click entry point
        """Run the CLI; any unexpected error becomes one line on stderr, not a traceback."""
        try:
            return super().main(*args, standalone_mode=False, **kwargs)
        except click.exceptions.Abort:
            sys.exit(130)
        except click.ClickException as e:
            e.show()
            sys.exit(EXIT_USAGE if e.exit_code == 2 else e.exit_code)
        except (BrokenPipeError, KeyboardInterrupt):
            sys.exit(130)
        except SystemExit:
            raise
        except Exception as e:  # noqa: BLE001
            click.echo(f"error: {e}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
def cli() -> None:
    """Framework Advisor: choose Django, Flask or Node.js with explicit, cited rules."""


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="framework-advisor")


# -- recommend -------------------------------------------------------------------------------------
def _advisor():
    from rules.advisor import default

    return default()


@cli.command()
@click.option("--answers", "answers_json", help="Answers as a JSON object.")
@click.option("--answers-file", type=click.Path(dir_okay=False), help="A file holding the answers JSON object.")
@click.option("--batch", "batch", help="JSON Lines of answer objects ('-' for stdin): one result line each.")
def recommend(answers_json: str | None, answers_file: str | None, batch: str | None) -> None:
    """Print the explained recommendation for a set of canonical answers, as JSON."""
    if sum(x is not None for x in (answers_json, answers_file, batch)) != 1:
        _fail("recommend: give exactly one of --answers, --answers-file or --batch")
    advisor = _advisor()
    if batch is not None:
        sys.exit(_batch(advisor, batch))
    if answers_file is not None:
        try:
            answers_json = Path(answers_file).read_text(encoding="utf-8")
        except OSError as e:
            _fail(f"recommend: cannot read {answers_file}: {e.strerror}")
    try:
        raw = json.loads(answers_json)  # type: ignore[arg-type]
    except json.JSONDecodeError as e:
        _fail(f"recommend: the answers are not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
    try:
        answers = advisor.validate(raw)
    except AnswerError as e:
        _fail(f"recommend: {e.message}; allowed: {json.dumps(e.allowed)}")
    click.echo(json.dumps(advisor.recommend(answers), ensure_ascii=False, indent=2))


@contextmanager
def _lines(command: str, source: str) -> Iterator[TextIO]:
    """The JSON Lines input of a `--batch` option: stdin for '-', else the file (a usage error if unreadable)."""
    if source == "-":
        yield sys.stdin
        return
    try:
        stream = open(source, encoding="utf-8")  # noqa: SIM115 - closed by the `with` below
    except OSError as e:
        _fail(f"{command}: cannot read {source}: {e.strerror}")
    with stream:
        yield stream


def _batch(advisor, source: str) -> int:
    """`recommend --batch`: one result line per input line, an error object for a bad one (then exit 2)."""
    failed = False
    out = sys.stdout
    with _lines("recommend", source) as stream:
        for n, line in enumerate(stream, 1):
            try:
                raw = json.loads(line)
                answers = advisor.validate(raw)
                result = advisor.recommend(answers)
            except json.JSONDecodeError as e:
                failed = True
                result = {"error": {"line": n, "question": None, "allowed": [], "message": f"invalid JSON: {e.msg}"}}
            except AnswerError as e:
                failed = True
                result = {"error": {"line": n, **e.as_dict()}}
            out.write(json.dumps(result, ensure_ascii=False) + "\n")
    out.flush()
    return EXIT_USAGE if failed else 0


# -- parse -----------------------------------------------------------------------------------------
PARSE_KEYS = ("text", "open", "recommended")


class BadLine(ValueError):
    """A `parse --batch` line that cannot be understood: its message takes the line's place."""


@cli.command()
@click.argument("text", required=False)
@click.option("--question", "open_id", default=None, help="The id of the open question (default: none is open).")
@click.option("--recommended", is_flag=True, help="A recommendation has been shown.")
@click.option("--batch", default=None,
              help='JSON Lines of {"text", "open", "recommended"} (\'-\' for stdin): one result line each.')
def parse(text: str | None, open_id: str | None, recommended: bool, batch: str | None) -> None:
    """Print what a typed line means, as JSON: its command, the answers it states, or why it was refused."""
    if (text is None) == (batch is None):
        _fail("parse: give exactly one of a TEXT or --batch")
    if batch is not None and (open_id is not None or recommended):
        _fail('parse: with --batch, each line gives its own "open" and "recommended"')
    questions = loader.default().questions
    if batch is not None:
        sys.exit(_parse_batch(questions, batch))
    try:
        _check_open(questions, open_id)
    except BadLine as e:
        _fail(f"parse: {e}")
    click.echo(_dumps(_understood(questions, text, open_id, recommended)))  # type: ignore[arg-type]


def _dumps(obj: dict) -> str:
    """One compact JSON line, non-ASCII text kept as it is."""
    return json.dumps(obj, ensure_ascii=False)


def _understood(questions, text: str, open_id: str | None, recommended: bool) -> dict:
    """The public JSON of what `text` means, with nothing answered yet."""
    from bot.understanding import understand

    return understand(questions, text, open=open_id, answers={}, recommended=recommended).as_json()


def _check_open(questions, open_id: object) -> None:
    """Refuse an open question that is not a question id of the knowledge base (None: none is open)."""
    if open_id is None:
        return
    ids = [q.id for q in questions]
    if not isinstance(open_id, str) or open_id not in ids:
        raise BadLine(f"unknown question {open_id!r}; questions: {', '.join(ids)}")


def _parse_request(line: str) -> tuple[str, str | None, bool]:
    """One batch line as (text, open, recommended); `BadLine` says what is wrong with it."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as e:
        raise BadLine(f"invalid JSON: {e.msg}") from None
    if not isinstance(raw, dict):
        raise BadLine("a line must be a JSON object with " + ", ".join(PARSE_KEYS))
    unknown = sorted(set(raw) - set(PARSE_KEYS))
    if unknown:  # a misspelt key would otherwise be silently ignored
        raise BadLine(f"unknown key {unknown[0]!r}; keys: {', '.join(PARSE_KEYS)}")
    text, open_id, recommended = raw.get("text"), raw.get("open"), raw.get("recommended", False)
    if not isinstance(text, str):
        raise BadLine('"text" must be a string')
    if not isinstance(recommended, bool):
        raise BadLine('"recommended" must be true or false')
    return text, open_id, recommended


def _parse_batch(questions, source: str) -> int:
    """Answer each JSON line with one JSON line; a bad line gets {"error": ...} in its place (then exit 2)."""
    failed = False
    out = sys.stdout
    with _lines("parse", source) as stream:
        for n, line in enumerate(stream, 1):
            try:
                text, open_id, recommended = _parse_request(line)
                _check_open(questions, open_id)
            except BadLine as e:
                failed = True
                out.write(_dumps({"error": f"line {n}: {e}"}) + "\n")
                continue
            out.write(_dumps(_understood(questions, text, open_id, recommended)) + "\n")
    out.flush()
    return EXIT_USAGE if failed else 0


# -- chat ------------------------------------------------------------------------------------------
TERMINAL = "terminal"  # the channel of every terminal consultation
# Words that leave the terminal client: the engine's quit words, and `q`. Leaving is the client's
# business (nothing is stored), so they are not sent to the engine.
LEAVE = frozenset({"quit", "exit", "q", "bye", "stop"})


@cli.command()
@db_option
@team_option
@click.option("--user", default=None, help="Who is answering (default: your login name).")
@click.option("--topic", default=None, help="What the consultation is about (asked for when not given).")
@click.option("--resume", default=None, is_flag=False, flag_value="latest", metavar="[N]",
              help="Continue open consultation N; without N, the team's most recently active terminal one.")
@click.option("--list", "list_open", is_flag=True, help="List the team's open terminal consultations.")
def chat(db: str | None, team: str, user: str | None, topic: str | None, resume: str | None,
         list_open: bool) -> None:
    """A terminal consultation on the same engine as Slack (reads lines from stdin)."""
    if list_open and (resume is not None or topic is not None):
        _fail("chat: --list cannot be combined with --resume or --topic")
    if resume is not None and topic is not None:
        _fail("chat: --topic is for a new consultation; a resumed one keeps its topic")
    store = _store(db)
    if list_open:
        click.echo(open_list_text(store, team))
        return
    _chat(store, team, user or _login(), topic, resume)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "local-user"


def open_list_text(store, team: str) -> str:
    """The team's open terminal consultations as a table: id, answers so far, last activity, topic."""
    from bot.consultation import Consultations

    rows = store.open_consultations_in(team, TERMINAL)
    if not rows:
        return "No open consultations."
    service = Consultations(store)
    lines = [f"{'id':>4}  {'answers':>7}  {'last activity':<16}  topic"]
    for c in rows:
        answered = len(service.state(team, c.id).answers)  # replayed from the log: undo and restart count
        lines.append(f"{c.id:>4}  {answered:>7}  {c.updated_at[:16].replace('T', ' '):<16}  {c.topic or '-'}")
    return "\n".join(lines)


def _chat(store, team: str, user: str, topic: str | None, resume: str | None = None) -> None:
    """Start a consultation (asking its topic when `topic` is None) or resume one, then converse."""
    from bot.consultation import Consultations

    service = Consultations(store)
    resumed = _resume_target(store, team, resume) if resume is not None else None  # refused before any output
    say = click.echo
    say("Framework Advisor: I'll ask a few questions and recommend Django, Flask or Node.js.")
    say("Type an answer, or: why, how, status, back, skip, restart, quit. Numbers pick an option.\n")
    if resumed is not None:
        cid, last = resumed.id, _show_resumed(service, resumed)
    else:
        if topic is None:
            say("What is this consultation about? (Enter skips)")
            line = _read_line()
            if line is None:
                say("\n(end of input) Nothing was started.")
                return
            topic = line.strip()
        c, last = service.start(team, TERMINAL, f"cli-{time.time():.6f}", user, topic)
        cid = c.id
        _show(last)
    _converse(service, team, user, cid, last)


def _resume_target(store, team: str, resume: str):
    """The open consultation `--resume` names (an id of this team, or "latest"); refused with exit 2 otherwise."""
    if resume == "latest":
        rows = store.open_consultations_in(team, TERMINAL, limit=1)
        if not rows:
            _fail(f"chat: team {team} has no open terminal consultation; `framework-advisor chat` starts one")
        return rows[0]
    if not (resume.isascii() and resume.isdigit()):
        _fail(f"chat: --resume takes a consultation id (a number), not {resume!r}")
    # Scoped by team: another team's consultation is "not found" here, and its existence is not told.
    c = store.get_consultation(team, int(resume))
    if c is None:
        _fail(f"chat: team {team} has no consultation {resume}; `framework-advisor chat --list` shows the open ones")
    if c.status != "open":
        _fail(f"chat: consultation {c.id} is no longer open ({c.status}); `framework-advisor chat` starts a new one")
    return c


def _show_resumed(service, c):
    """Print where a resumed consultation stands and ask its open question again (or show its recommendation)."""
    st = service.state(c.team_id, c.id)
    current = service.kb.question(st.next_question) if st.next_question and not st.done else None
    click.echo(f"Resuming consultation {c.id}" + (f": {c.topic}" if c.topic else "") + ".")
    click.echo(terminal.plain(explain.status(service.kb, st.answers, current, st.result)) + "\n")
    reply = service.next_reply(st, save=False)  # only shown again: it was saved when first reached
    _show(reply)
    return reply


def _show(reply) -> None:
    """Print a reply; after a recommendation, say how to record the decision."""
    click.echo(terminal.render(reply))
    if reply.kind == "decision" and reply.decision is not None and reply.decision.review_on:
        click.echo(f"Review on {reply.decision.review_on}: `framework-advisor decisions review` lists what is due.")
    if reply.kind == "recommendation":
        click.echo("\nRecord the decision in your own words, e.g. `let's go with it because ...` or "
                   "`we'll pick flask because ...` (or `quit`).")


def _stays_open(cid: int) -> str:
    """What leaving says: the consultation is kept, and how to come back to it."""
    return f"The consultation stays open: `framework-advisor chat --resume {cid}` continues it."


def _converse(service, team: str, user: str, cid: int, last) -> None:
    """Read lines until a decision, a cancel, `quit` or the end of input; `last` is the question shown."""
    while True:
        line = _read_line()
        if line is None:
            click.echo("\n(end of input) " + _stays_open(cid))
            return
        text = line.strip()
        if not text:
            continue
        if text.lower().strip(" .!") in LEAVE:
            click.echo(_stays_open(cid))
            return
        for r in _send(service, team, user, cid, text, last):
            if r.pending_decision:
                r = _ask_rationale(service, team, user, cid, r.pending_decision)
            _show(r)
            if r.kind in ("question", "recommendation"):
                last = r
            if r.kind in ("decision", "closed"):
                return


def _ask_rationale(service, team: str, user: str, cid: int, framework: str):
    """A decision said in plain words without a reason: ask for one (Enter records it without)."""
    click.echo(f"Why {explain.fw_name(framework)}? One line for the record (Enter records it without a reason):")
    line = _read_line()
    rationale = (line or "").strip()
    review_on = service.default_review_date()
    if line is not None:  # an interactive terminal: the review date too (Enter takes the default)
        for _ in range(3):
            click.echo(f"Review it on? A date (YYYY-MM-DD), Enter for {review_on}:")
            typed = (_read_line() or "").strip()
            if not typed:
                break
            problem = service.decision_problems(framework, rationale or "x", typed).get("review_on")
            if problem is None:
                review_on = typed
                break
            click.echo(problem)
    return service.decide(team, cid, user, framework, rationale or "No reason given.", review_on=review_on)


def _send(service, team: str, user: str, cid: int, text: str, last) -> list:
    """Hand a line to the engine; a number picks that option of the question shown last."""
    if text.isdigit() and last.kind == "question" and last.options and 1 <= int(text) <= len(last.options):
        return service.answer(team, cid, user, last.question, last.options[int(text) - 1].value, raw_text=text)
    return service.handle_text(team, cid, user, text)


def _read_line() -> str | None:
    try:
        line = sys.stdin.readline()
    except (KeyboardInterrupt, EOFError):
        return None
    return line if line else None


# -- decisions -------------------------------------------------------------------------------------
@cli.group()
def decisions() -> None:
    """The team's recorded decisions."""


@decisions.command("list")
@db_option
@team_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
@click.option("--status", type=click.Choice(DECISION_STATUSES), default=None, help="Only decisions of this status.")
def decisions_list(db: str | None, team: str, limit: int, offset: int, as_json: bool, status: str | None) -> None:
    """This team's decisions, newest first."""
    store = _store(db)
    rows = store.decisions(team, limit=limit, offset=offset, status=status)
    if as_json:
        for d in rows:
            click.echo(json.dumps(d.model_dump(exclude={"result"}), ensure_ascii=False))
        return
    click.echo(list_text(rows))


def list_text(rows) -> str:
    """Decisions as a text table."""
    if not rows:
        return "No decisions recorded yet."
    lines = [f"{'#':>4}  {'framework':<9} {'status':<10} {'date':<10}  {'by':<14} topic"]
    for d in rows:
        lines.append(f"{d.number:>4}  {explain.fw_name(d.framework):<9} {d.status:<10} {d.created_at[:10]:<10}  "
                     f"{d.decided_by[:14]:<14} {d.topic or '-'}")
    return "\n".join(lines)


def _decision(store, team: str, number: int):
    d = store.decision(team, number)
    if d is None:
        _fail(f"no decision {number} for team {team}")
    return d


@decisions.command("show")
@click.argument("number", type=int)
@db_option
@team_option
def decisions_show(number: int, db: str | None, team: str) -> None:
    """One decision with its answers and reasons."""
    d = _decision(_store(db), team, number)
    kb = loader.default()
    click.echo(f"Decision {d.number}: {explain.fw_name(d.framework)} ({d.status})")
    click.echo(f"Topic: {d.topic or '-'}  ·  by {d.decided_by}  ·  {d.created_at}")
    click.echo(f"Rationale: {d.rationale}")
    if d.supersedes:
        click.echo(f"Supersedes decision {d.supersedes}")
    if d.superseded_by:
        click.echo(f"Superseded by decision {d.superseded_by}")
    if d.accepted_by:
        click.echo(f"Accepted by {d.accepted_by} on {(d.accepted_at or '')[:10]}")
    for label, people in (("Decision-makers", d.decision_makers), ("Consulted", d.consulted),
                          ("Informed", d.informed)):
        if people:
            click.echo(f"{label}: {', '.join(people)}")
    if d.review_on:
        click.echo(f"Review on {d.review_on}")
    click.echo(f"Knowledge version: {d.knowledge_version}")
    click.echo(answers_text(kb, d.answers))
    if d.result:
        click.echo(terminal.plain(explain.recommendation(kb, d.result)))


def answers_text(kb, answers: dict) -> str:
    """The answers a decision rests on, in the knowledge base's question order: question and label."""
    if not answers:
        return "Answers: none"
    order = {q.id: i for i, q in enumerate(kb.questions)}
    lines = ["Answers:"]
    for qid in sorted(answers, key=lambda q: (order.get(q, len(order)), q)):
        try:
            prompt = kb.question(qid).prompt
        except KeyError:  # a question the knowledge base has dropped since the decision
            prompt = qid
        lines.append(f"• {prompt} → {explain.value_label(kb, qid, answers[qid])}")
    return "\n".join(lines)


@decisions.command("export")
@click.argument("number", type=int, required=False)
@click.option("--format", "fmt", type=click.Choice(["madr", "json"]), default="madr", show_default=True)
@click.option("--all", "everything", is_flag=True, help="Every decision of the team, one MADR file each (with --dir).")
@click.option("--dir", "directory", type=click.Path(file_okay=False), default=None,
              help="Write MADR files here (0001-use-django-for-billing.md ...) plus index.md, instead of printing.")
@db_option
@team_option
def decisions_export(number: int | None, fmt: str, everything: bool, directory: str | None, db: str | None,
                     team: str) -> None:
    """Export a decision as a MADR 4 Markdown record or as JSON; --all --dir writes every record as a file.

    Files are rewritten only when their content changed, so running it again changes no byte and
    the directory can be committed.
    """
    if everything == (number is not None):
        _fail("give a decision NUMBER, or --all (with --dir)")
    if everything and directory is None:
        _fail("--all writes one file per decision: give --dir, e.g. --dir docs/decisions")
    if directory is not None and fmt != "madr":
        _fail("--dir writes MADR files; --format json prints one decision")
    store = _store(db)
    if not everything:
        d = _decision(store, team, number)  # type: ignore[arg-type]
        if fmt == "json":
            click.echo(json.dumps(d.model_dump(), ensure_ascii=False, indent=2))
        elif directory is None:
            click.echo(madr.render(d, loader.default(), reviews=store.reviews_of(team, d.number)))
        else:
            _write_records(Path(directory), [d], loader.default(), with_index=False,
                           reviews={d.number: store.reviews_of(team, d.number)})
        return
    rows = list(store.all_decisions(team))
    _write_records(Path(directory), rows, loader.default(), with_index=True,  # type: ignore[arg-type]
                   reviews={d.number: store.reviews_of(team, d.number) for d in rows})


def _write_records(directory: Path, rows: list, kb, *, with_index: bool, reviews: dict) -> None:
    """Write each decision's MADR file (and the index), only where the bytes differ; report on stderr."""
    files = {d.number: madr.filename(d) for d in rows}
    out = {files[d.number]: madr.render(d, kb, files=files, reviews=reviews.get(d.number, ())) for d in rows}
    if with_index:
        out[madr.INDEX] = madr.index(rows)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        _fail(f"cannot create {directory}: {e.strerror}")
    written = 0
    for name, text in out.items():
        path = directory / name
        data = text.encode("utf-8")
        if path.is_file() and path.read_bytes() == data:
            continue
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)  # a reader never sees half a file
        written += 1
        click.echo(str(path))
    click.echo(f"{len(rows)} decision record(s) in {directory}: {written} file(s) written, "
               f"{len(out) - written} unchanged.", err=True)


@decisions.command("accept")
@click.argument("number", type=int)
@click.option("--user", default=None, help="Who accepts it (default: your login name).")
@click.option("--reject", is_flag=True, help="Reject the proposal instead.")
@db_option
@team_option
def decisions_accept(number: int, user: str | None, reject: bool, db: str | None, team: str) -> None:
    """Accept (or --reject) a proposed decision; an accepted one supersedes the decision in force."""
    from bot.consultation import Consultations

    reply = Consultations(_store(db), _advisor()).accept(team, number, user or _login(), reject=reject)
    if reply.kind != "decision":
        _fail(terminal.plain(reply.text))
    click.echo(terminal.plain(reply.text))


@decisions.command("review")
@click.option("--days", default=30, show_default=True, type=click.IntRange(0, 3650),
              help="List the reviews due within this many days (overdue ones too).")
@click.option("--confirm", "confirm_number", type=int, default=None, metavar="N",
              help="Decision N is still the right choice: record the confirmation and set the next review.")
@click.option("--later", "later_number", type=int, default=None, metavar="N",
              help="Remind about decision N again in a week.")
@click.option("--user", default=None, help="Who confirms (default: your login name).")
@db_option
@team_option
def decisions_review(days: int, confirm_number: int | None, later_number: int | None, user: str | None,
                     db: str | None, team: str) -> None:
    """The decisions due for review, with what today's knowledge would advise; --confirm N or --later N."""
    from bot.consultation import Consultations
    from bot.reviews import OPEN, Reviews, when

    reviews = Reviews(Consultations(_store(db), _advisor()))
    store = reviews.store
    number = confirm_number or later_number
    if number is not None:
        if confirm_number and later_number:
            _fail("decisions review: --confirm or --later, not both")
        d = store.decision(team, number)
        open_ = [r for r in store.reviews_of(team, number) if r.status in OPEN]
        if d is None or not open_:
            _fail(f"decisions review: decision {number} has no review waiting; `decisions review` lists them")
        who = user or _login()
        text = reviews.confirm(open_[0], who) if confirm_number else reviews.snooze(open_[0], who)
        click.echo(terminal.plain(re.sub(r"<@([^>|]+)>", r"\1", text)))
        return
    due = reviews.due(team, within_days=days)
    if not due:
        click.echo(f"No reviews due in the next {days} days.")
        return
    for r in due:
        d = store.decision(team, r.decision_number)
        if d is None:
            continue
        topic = f" for {d.topic}" if d.topic else ""
        click.echo(f"{when(r.due_at)}  decision {d.number}: {explain.fw_name(d.framework)}{topic} ({d.status})")
        drift = reviews.drift(d)
        if drift:
            click.echo(f"            {drift}")
    click.echo("`decisions review --confirm N` records that one is still right; `--later N` asks again in a week.")


@decisions.command("recheck")
@db_option
@click.option("--team", default=None, help="Only this team (default: every team).")
@click.option("--post", is_flag=True, help="Also queue a note in each drifted decision's Slack thread.")
def decisions_recheck(db: str | None, team: str | None, post: bool) -> None:
    """Re-run every stored decision on the current knowledge; list those whose recommendation drifted."""
    from bot.drift import recheck
    from bot.slack import drift_notices

    store = _store(db)
    drifted = recheck(store, _advisor(), team)
    for row in drifted:
        click.echo(json.dumps(row, ensure_ascii=False))
    click.echo(f"{len(drifted)} decision(s) would now get a different recommendation.", err=True)
    if post:
        click.echo(f"{drift_notices.queue(store, drifted)} note(s) queued for Slack.", err=True)


# -- knowledge -------------------------------------------------------------------------------------
@cli.group()
def knowledge() -> None:
    """The knowledge base: check it, diff two versions."""


@knowledge.command("check")
@click.option("--dir", "data_dir", type=click.Path(file_okay=False), default=None,
              help="A knowledge directory to check (default: the packaged one).")
def knowledge_check(data_dir: str | None) -> None:
    """Validate the knowledge files and every reference between them; exit 1 if anything is broken."""
    from knowledge.check import check

    try:
        kb = loader.load(Path(data_dir)) if data_dir else loader.load()
    except loader.KnowledgeError as e:
        _fail(f"knowledge: {e}", 1)
    report = check(kb)
    for err in report.errors:
        click.echo(f"error: {err}")
    click.echo(f"knowledge version {kb.version}: {len(kb.sections)} sections, {len(kb.claims)} claims, "
               f"{len(kb.questions)} questions, {len(kb.rules)} rules, {len(kb.profiles)} profiles")
    click.echo(f"claims used by a rule, question or profile: {report.used}/{report.total}")
    if report.unused_claims:
        click.echo("unused claims: " + ", ".join(report.unused_claims))
    double = _double_counted(kb, report.overlaps)
    click.echo(f"overlapping rules (one claim, one framework, one direction): {len(report.overlaps)}"
               f" claim(s); double counted: {len(double)}")
    for (claim, fw, sign), rules in report.overlaps.items():
        click.echo(f"  {claim} ({fw} {sign}): {', '.join(rules)}")
    for line in double:
        click.echo(f"error: {line}")
    if double:
        report.errors.extend(double)
    if not report.ok:
        click.echo(f"{len(report.errors)} broken reference(s)", err=True)
        sys.exit(1)
    click.echo("ok")


def _double_counted(kb, overlaps: dict) -> list[str]:
    """Overlapping rules that the scorer would count together if all fired at once (should be none)."""
    from rules.scoring import counted

    rules = {r.id: r for r in kb.rules}
    out = []
    for (claim, fw, sign), ids in overlaps.items():
        kept = counted((i, rules[i].framework, rules[i].weight, rules[i].claims) for i in ids)
        if len(kept) > 1:
            out.append(f"claim {claim} counts {len(kept)} times for {fw} ({sign}): {', '.join(sorted(kept))}")
    return out


@knowledge.command("diff")
@click.argument("old", type=click.Path(file_okay=False, exists=True))
@click.argument("new", type=click.Path(file_okay=False, exists=True))
def knowledge_diff(old: str, new: str) -> None:
    """List what changed between two knowledge directories."""
    from knowledge.diff import diff

    try:
        lines = diff(loader.load(Path(old)), loader.load(Path(new)))
    except loader.KnowledgeError as e:
        _fail(f"knowledge: {e}", 1)
    click.echo("\n".join(lines) if lines else "no differences")


# -- operations ------------------------------------------------------------------------------------
@cli.command()
@click.argument("path", type=click.Path(dir_okay=False))
@db_option
def backup(path: str, db: str | None) -> None:
    """A consistent online copy of the database (created 0600: it may hold tokens)."""
    target = _store(db).backup(path)
    click.echo(f"backed up to {target}")


@cli.command()
@click.argument("user")
@db_option
@click.option("--team", required=True, help="The team whose records to change.")
def forget(user: str, db: str | None, team: str) -> None:
    """Remove a user's identity from a team's records, keeping the decisions."""
    n = _store(db).forget_user(team, user)
    click.echo(f"removed {user} from {n} record(s) of team {team}")


def _metrics_across_processes() -> None:
    """Give `serve` and its outbox process one metrics directory (see `bot.metrics`).

    A fresh private directory per run, removed at exit, unless PROMETHEUS_MULTIPROC_DIR is set
    (then it is the operator's, to wipe between runs as prometheus_client asks).
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or "prometheus_client" in sys.modules:
        return  # set by the operator, or too late: prometheus_client picks its mode when imported
    path = tempfile.mkdtemp(prefix="framework-advisor-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    atexit.register(shutil.rmtree, path, True)


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option("--port", default=3000, show_default=True, type=click.IntRange(0, 65535))
@db_option
def serve(host: str, port: int, db: str | None) -> None:
    """Run the Slack bot (Socket Mode or HTTP, chosen by the environment)."""
    _metrics_across_processes()
    from bot.slack.server import serve as run_server

    run_server(host=host, port=port, db=db)


@cli.command()
@db_option
def run(db: str | None) -> None:
    """The main job: the Slack bot when Slack credentials are set, else a terminal consultation."""
    slack_vars = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_CLIENT_ID")
    if any(os.environ.get(v) for v in slack_vars):
        _metrics_across_processes()
        from bot.slack.server import serve as run_server

        run_server(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "3000")), db=db)
        return
    click.echo("No Slack credentials set: starting a terminal consultation. To connect Slack, set "
               "SLACK_APP_TOKEN and SLACK_BOT_TOKEN (Socket Mode; see README) and run `make run` again.\n")
    _chat(_store(db), "local", _login(), "")


if __name__ == "__main__":
    main()
