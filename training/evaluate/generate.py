"""`evaluate generate`: each system's answer to every post of a release split, one file per system.

Systems: `reference` (the professional answers), a local model folder (transformers, chat
template, CoE system prompt) or `openai:NAME` (any OpenAI-compatible endpoint).
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
from packaging.version import InvalidVersion, Version

from empathyqa.coe import build_prompt, chat_messages, parse_completion
from empathyqa.io import read_table, write_parquet_atomic
from empathyqa.progress import progress
from empathyqa.schema import LAYERS_STRUCT, RELEASE_ROW

GENERATION = pa.schema(
    [
        ("system", pa.string()),
        ("model", pa.string()),
        ("question_id", pa.string()),
        ("prompt", pa.string()),
        ("references", pa.list_(pa.string())),  # professional answers the metrics compare against
        ("output", pa.string()),  # raw model text
        ("answer", pa.string()),  # the parsed <answer>, or the raw text when it does not parse
        ("coe", LAYERS_STRUCT),
        ("format_ok", pa.bool_()),  # null: the format does not apply (reference answers)
        ("error", pa.string()),
        ("latency_s", pa.float64()),
        ("created_at", pa.string()),
    ]
)
PROFESSIONAL_ROLE = "counselor"
_ANSWER_TAG = re.compile(r"<answer>(.*?)(?:</answer>|\Z)", re.S)


class EvaluateInputError(ValueError):
    """Bad input from the user: one line on stderr, exit code 2."""


@dataclass
class Post:
    question_id: str
    prompt: str
    answers: list[dict[str, Any]] = field(default_factory=list)

    def professional(self) -> list[dict[str, Any]]:
        """Counselor answers; every answer when the post has none (say so in the summary)."""
        pros = [a for a in self.answers if a.get("answer_role") == PROFESSIONAL_ROLE]
        return pros or self.answers


def resolve_split(split: str, data: str | None) -> Path:
    """`--split test` inside `--data` (a release version folder, or datasets/empathy_qa: newest
    version), or a parquet path given directly."""
    if split.endswith(".parquet"):
        path = Path(split)
    else:
        root = Path(data or "datasets/empathy_qa")
        if not (root / f"{split}.parquet").exists() and root.is_dir():
            versions = [p for p in root.iterdir() if (p / f"{split}.parquet").exists()]
            root = max(versions, key=version_order) if versions else root
        path = root / f"{split}.parquet"
    if not path.is_file():
        raise EvaluateInputError(f"split not found: {path} (give --data RELEASE_DIR or --split FILE.parquet)")
    return path


def version_order(folder: Path) -> tuple[int, Version | str]:
    """Release folders by parsed version (0.10.0 after 0.9.0); names that are no version sort first."""
    try:
        return 1, Version(folder.name)
    except InvalidVersion:
        return 0, folder.name


def load_posts(path: Path, limit: int | None = None) -> list[Post]:
    required = ("question_id", "answer", "prompt", "title", "question")
    table = read_table(path, required, "release split", error=EvaluateInputError)
    posts: dict[str, Post] = {}
    for row in table.select([n for n in RELEASE_ROW.names if n in table.column_names]).to_pylist():
        qid = row.get("question_id")
        if not qid:
            continue
        post = posts.get(qid)
        if post is None:
            prompt = row.get("prompt") or build_prompt(row.get("title") or "", row.get("question") or "")
            post = posts[qid] = Post(qid, prompt)
        if row.get("answer"):
            post.answers.append(row)
    ordered = [posts[q] for q in sorted(posts)]
    return ordered[:limit] if limit else ordered


def system_name(model: str, name: str | None) -> str:
    if name:
        chosen = name
    elif model == "reference":
        chosen = "reference"
    elif model.startswith("openai:"):
        chosen = model.split(":", 1)[1]
    else:
        path = Path(model.rstrip("/"))
        chosen = f"{path.parent.name}-{path.name}" if path.name.startswith("checkpoint-") else path.name
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", chosen).strip("-.")
    if not cleaned:
        raise EvaluateInputError(f"cannot make a file name from system name {chosen!r}; pass --name")
    return cleaned


def split_output(text: str) -> tuple[str, dict[str, str] | None, bool]:
    """(answer, CoE layers or None, format_ok). Unparseable text: the <answer> part if there is
    one, else the whole raw text, so a model that ignores the format is still judged."""
    parsed = parse_completion(text)
    if parsed:
        return parsed.answer, {"l1": parsed.l1, "l2": parsed.l2, "l3": parsed.l3, "l4": parsed.l4}, True
    tagged = _ANSWER_TAG.search(text or "")
    if tagged and tagged.group(1).strip():
        return tagged.group(1).strip(), None, False
    return (text or "").strip(), None, False


@dataclass
class GenerateConfig:
    """`evaluate generate`'s settings (flags, or a YAML file via --config)."""

    model: str = field(
        default="",
        metadata={
            "help": "reference (the professional answers) | a local model folder | openai:NAME (an endpoint)"
        },
    )
    split: str = field(default="test", metadata={"help": "split name inside --data, or a .parquet path"})
    data: str = field(
        default="datasets/empathy_qa",
        metadata={"help": "release version folder (or its parent: newest version)"},
    )
    out: str = field(
        default="runs/eval", metadata={"help": "folder for the generation files (one per system)"}
    )
    name: str = field(default="", metadata={"help": "system name (file name); default from --model"})
    limit: int = field(default=0, metadata={"help": "first N posts only (0: all)"})
    max_new_tokens: int = 768
    temperature: float = field(default=0.0, metadata={"help": "0: greedy"})
    top_p: float = 1.0
    batch_size: int = field(default=4, metadata={"help": "local model: posts per generate() call"})
    concurrency: int = field(default=4, metadata={"help": "endpoint: requests in flight"})
    seed: int = 0
    base_url: str = field(
        default="", metadata={"help": "endpoint base URL for openai:NAME (or OPENAI_BASE_URL)"}
    )
    device: str = field(default="", metadata={"help": "local model: cpu | cuda (default: cuda when present)"})


def reference_rows(posts: list[Post]) -> list[dict[str, Any]]:
    """The best-liked professional answer is the system's answer; the others stay references."""
    rows = []
    for post in posts:
        pros = post.professional()
        chosen = max(pros, key=lambda a: (a.get("likes") or 0, -pros.index(a)))
        others = [a["answer"] for a in pros if a is not chosen]
        rows.append(
            _row(post, "reference", chosen["answer"], others, answer=chosen["answer"], format_ok=None)
        )
    return rows


def _row(post: Post, model: str, output: str, references: list[str], **extra: Any) -> dict[str, Any]:
    row = {
        "model": model,
        "question_id": post.question_id,
        "prompt": post.prompt,
        "references": references,
        "output": output,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if "answer" not in extra:
        answer, coe, ok = split_output(output)
        row.update(answer=answer, coe=coe, format_ok=ok)
    row.update(extra)
    return row


def local_rows(model_path: str, posts: list[Post], options: GenerateConfig) -> list[dict[str, Any]]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(model_path)
    if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
        raise EvaluateInputError(
            f"{model_path} is not a model folder (no config.json); use reference or openai:NAME"
        )
    device = options.device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if tokenizer.chat_template is None:
        raise EvaluateInputError(f"{model_path}: the tokenizer has no chat template")
    if (path / "adapter_config.json").exists():
        from peft import AutoPeftModelForCausalLM

        model = AutoPeftModelForCausalLM.from_pretrained(path, dtype="auto")
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype="auto")
    model.to(device).eval()
    torch.manual_seed(options.seed)
    rows: list[dict[str, Any]] = []
    batches = [posts[i : i + options.batch_size] for i in range(0, len(posts), options.batch_size)]
    for batch in progress(batches, desc=f"generate {path.name}", unit="batch"):
        texts = [
            tokenizer.apply_chat_template(chat_messages(p.prompt), tokenize=False, add_generation_prompt=True)
            for p in batch
        ]
        encoded = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        sampling = {"do_sample": True, "temperature": options.temperature, "top_p": options.top_p}
        started = time.perf_counter()
        with torch.no_grad():
            generated = model.generate(
                **encoded,
                max_new_tokens=options.max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
                **(sampling if options.temperature > 0 else {"do_sample": False}),
            )
        latency = (time.perf_counter() - started) / len(batch)
        new_tokens = generated[:, encoded["input_ids"].shape[1] :]
        for post, tokens in zip(batch, new_tokens, strict=True):
            output = tokenizer.decode(tokens, skip_special_tokens=True)
            pros = [a["answer"] for a in post.professional()]
            rows.append(_row(post, str(model_path), output, pros, error=None, latency_s=latency))
    return rows


def endpoint_rows(model_name: str, posts: list[Post], options: GenerateConfig) -> list[dict[str, Any]]:
    from empathyqa.endpoint import FEW_RETRIES, Endpoint, EndpointError, map_requests

    base_url = options.base_url or os.environ.get("OPENAI_BASE_URL")
    if not base_url:
        raise EvaluateInputError("openai:NAME needs --base-url URL or OPENAI_BASE_URL")

    async def one(endpoint: Endpoint, post: Post) -> dict[str, Any]:
        pros = [a["answer"] for a in post.professional()]
        started = time.perf_counter()
        try:
            reply = await endpoint.request(chat_messages(post.prompt))
            output, error = reply.content or "", None
        except EndpointError as exc:  # after the retries: record it, judge an empty answer
            output, error = "", f"{exc.reason}: {exc.error}"[:500]
        return _row(
            post, f"openai:{model_name}", output, pros, error=error, latency_s=time.perf_counter() - started
        )

    params = {
        "max_tokens": options.max_new_tokens,
        "temperature": options.temperature,
        "top_p": options.top_p,
        "seed": options.seed,
    }
    connect = {"model": model_name, "params": params, "retry": FEW_RETRIES}
    return map_requests(connect, base_url, one, posts, options.concurrency, f"generate {model_name}", "post")


def generate(
    model: str, posts: list[Post], options: GenerateConfig, name: str | None, out: Path
) -> tuple[Path, dict]:
    system = system_name(model, name)
    if model == "reference":
        rows = reference_rows(posts)
    elif model.startswith("openai:"):
        rows = endpoint_rows(model.split(":", 1)[1], posts, options)
    else:
        rows = local_rows(model, posts, options)
    for row in rows:
        row["system"] = system
    path = write_parquet_atomic(pa.Table.from_pylist(rows, schema=GENERATION), out / f"{system}.parquet")
    applicable = [r["format_ok"] for r in rows if r.get("format_ok") is not None]
    summary = {
        "system": system,
        "posts": len(posts),
        "answers written": len(rows),
        "CoE parsed": sum(applicable) if applicable else "n/a",
        "fell back to raw text": (len(applicable) - sum(applicable)) if applicable else "n/a",
        "errors": sum(1 for r in rows if r.get("error")),
        "empty answers": sum(1 for r in rows if not (r.get("answer") or "").strip()),
        "posts without a counselor answer": sum(
            1 for p in posts if not any(a.get("answer_role") == PROFESSIONAL_ROLE for a in p.answers)
        ),
        "file": str(path),
    }
    return path, summary


def read_generations(paths: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """{system: rows} from generation files; a file that is not one is an input error."""
    systems: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        rows = read_table(path, GENERATION.names, "`generate` output", error=EvaluateInputError).to_pylist()
        names = {r["system"] for r in rows}
        if len(names) != 1:
            raise EvaluateInputError(f"{path} holds {len(names)} systems; expected exactly one")
        system = names.pop()
        if system in systems:
            raise EvaluateInputError(
                f"system {system!r} appears in two files; rename one with generate --name"
            )
        systems[system] = rows
    return systems
