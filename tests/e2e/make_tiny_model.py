"""Write a tiny Llama-architecture model directory that vLLM can serve with random weights.

    python tests/e2e/make_tiny_model.py OUT_DIR [--hidden 512] [--layers 4] ...

Nothing is downloaded: `config.json` is written by hand, and the tokenizer is a byte-level BPE
trained with the `tokenizers` library on the few lines of text below (any printable ASCII text
encodes, and the short common words of infercost's synthetic prompts are single tokens). vLLM is started with
`--load-format dummy`, which fills the weights with random numbers, so no weight files exist.

Runs with any Python that has `tokenizers` (the vLLM virtual environment has it; infercost's own
environment does not need it).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

# The words of infercost's synthetic prompts (src/infercost/bench/prompts.py) in a few sentences, so
# BPE merges them whole and a prompt of N words is about N tokens, as the load generator assumes.
TRAINING_TEXT = [
    "the of and to in is it you that he was for on are as with his they at be this have from or",
    "one had by word but not what all were we when your can said there use an each which she do how",
    "their if will up other about out many then them these so some her would make like him into time",
    "has look two more write go see number no way could people my than first water been call who oil",
    "its now find long down day did get come made may part over new sound take only little work know",
    "place year live me back give most very after thing our just name good sentence man think say",
    "great where help through much before line right too mean old any same tell boy follow came want",
    "show also around form three small set put end does another well large must big even such because",
    "turn here why ask went men read need land different home us move try kind hand picture again",
    "change off play spell air away animal house point page letter.",
    "The quick brown fox jumps over the lazy dog. A tiny model answers every question at once.",
    "User: how many tokens per second can this server make? Assistant: that depends on the batch.",
]
SPECIAL_TOKENS = ["<s>", "</s>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def train_tokenizer(vocab_size: int) -> Any:
    """A byte-level BPE over TRAINING_TEXT whose alphabet is printable ASCII, space and newline.

    Not all 256 bytes: with random weights and greedy decoding a request can loop on one token,
    and a lone byte ≥ 0x80 is an incomplete UTF-8 sequence that the server never streams as text,
    so a request made only of those would have no text at all. Every token here decodes to text.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=[chr(c) for c in range(33, 127)] + ["\u0120", "\u010a"],  # Ġ=" ", Ċ="\n"
        show_progress=False,
    )
    # Every line twice, the second time behind a space, so each word is learnt with and without
    # the leading space it carries inside a prompt.
    lines = TRAINING_TEXT + [" " + line for line in TRAINING_TEXT]
    tok.train_from_iterator(lines, trainer=trainer)
    return tok


def llama_config(
    args: argparse.Namespace, vocab_size: int, bos: int, eos: int
) -> dict[str, object]:
    """A Hugging Face LlamaForCausalLM config of the sizes asked for."""
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": args.hidden,
        "intermediate_size": args.intermediate,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "num_key_value_heads": args.kv_heads,
        "head_dim": args.hidden // args.heads,
        "hidden_act": "silu",
        "max_position_embeddings": args.max_len,
        "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "vocab_size": vocab_size,
        "bos_token_id": bos,
        "eos_token_id": eos,
        "pad_token_id": None,
        "torch_dtype": args.dtype,
        "initializer_range": 0.02,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    # About 91 M parameters (183 MB in bf16): a decode step reads enough weights (~20 ms on one
    # core) to stand well above vLLM's per-step overhead and scheduling noise on a 2-core machine.
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--intermediate", type=int, default=2816)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=16)
    parser.add_argument("--kv-heads", type=int, default=4)
    parser.add_argument("--vocab", type=int, default=2048, help="BPE vocabulary size (at most)")
    parser.add_argument("--max-len", type=int, default=2048)
    parser.add_argument("--dtype", default="bfloat16")
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    tok = train_tokenizer(args.vocab)
    tok.save(str(args.out / "tokenizer.json"))
    bos, eos = (tok.token_to_id(t) for t in ("<s>", "</s>"))
    # Pad the vocabulary to a multiple of 64 as real checkpoints do; unused rows are never sampled
    # by a trained model, and random weights do not care.
    vocab = -(-tok.get_vocab_size() // 64) * 64

    (args.out / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "bos_token": "<s>",
                "eos_token": "</s>",
                "model_max_length": args.max_len,
                "add_bos_token": False,
                "chat_template": CHAT_TEMPLATE,
            },
            indent=2,
        )
        + "\n"
    )
    (args.out / "special_tokens_map.json").write_text(
        json.dumps({"bos_token": "<s>", "eos_token": "</s>"}, indent=2) + "\n"
    )
    config = llama_config(args, vocab, bos, eos)
    (args.out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (args.out / "generation_config.json").write_text(
        json.dumps({"bos_token_id": bos, "eos_token_id": eos}, indent=2) + "\n"
    )
    print(f"wrote {args.out}: {args.layers} layers, hidden {args.hidden}, vocab {vocab}")


if __name__ == "__main__":
    main()
