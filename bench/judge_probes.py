"""Can the shipped 1.5B model tell a good answer from a poor one without writing anything?

    .venv/bin/python -m bench.judge_probes [--set calibration] [--mode yesno|rating] [--threads 2]
        [--data-dir data]

The judge in ``evaluation/judge.py`` asks the model to write ratings with quotes, which costs
10-24 s an answer and ranked the validation set near chance (docs/performance.md). This bench reads
the model's next-token probabilities instead, with no sampling, one forward pass per prompt:

- ``yesno``: three narrow questions per answer (does it address this question, does it describe
  concrete actions the candidate took, is it free of false claims), each scored by P(yes) against
  P(no); the answer's score is their mean.
- ``rating``: one holistic 1-5 rating; the score is the expected value under the probabilities of
  the five digit tokens.

It runs llama.cpp directly (not through the product's ``ChatLLM``) because reading logits is not
part of that interface; the prompts are the bench's own. Tune on ``--set calibration`` only.
Last line: set= mode= spearman= en_spearman= ko_spearman= en_pairwise_pct= ko_pairwise_pct= s_per_answer=
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from agent.models.registry import QWEN_ALIAS, ModelPaths, locate
from bench.answer_ranking import load_set, pairwise_pct
from evaluation.stats import spearman

_SYSTEM = {
    "yesno": {
        "en": "You review job interview answers. Answer Yes or No.",
        "ko": "면접 답변을 검토합니다. 예 또는 아니요로만 답하세요.",
    },
    "rating": {
        "en": "You are an experienced hiring manager. You judge how good a candidate's answer is.",
        "ko": "당신은 경험 많은 채용 담당자입니다. 지원자의 답변이 얼마나 좋은지 판단합니다.",
    },
}
_YES_NO = {"en": ("Yes", "No"), "ko": ("예", "아니요")}
_QUESTIONS = {
    "en": (
        "Does the answer address the specific question that was asked?",
        "Does the answer describe concrete actions the candidate took?",
        "Is the answer free of false or technically wrong claims?",
    ),
    "ko": (
        "답변이 질문에서 물은 바로 그 내용에 답하고 있습니까?",
        "답변이 지원자가 직접 한 구체적인 행동을 설명합니까?",
        "답변에 틀리거나 기술적으로 잘못된 주장이 없습니까?",
    ),
}
_RATE = {
    "en": (
        "Rate the answer from 1 to 5.\n5: answers this exact question with concrete detail of what the "
        "candidate did and why.\n3: on topic but general or thin.\n1: about something else, or only "
        "buzzwords, claims and vague statements.\nNumbers, length and phrases like 'as a result' earn "
        "nothing by themselves. Reply with one digit."
    ),
    "ko": (
        "답변을 1~5점으로 평가하세요.\n5: 바로 이 질문에 답하며, 본인이 무엇을 왜 했는지 구체적으로 말한다.\n"
        "3: 주제는 맞지만 일반적이거나 내용이 얕다.\n"
        "1: 다른 이야기를 하거나, 유행어와 주장, 모호한 말뿐이다.\n"
        "수치, 길이, '그 결과' 같은 표현만으로는 점수를 주지 않습니다. 숫자 하나로만 답하세요."
    ),
}
_LABELS = {"en": ("Question", "Answer"), "ko": ("질문", "답변")}


class _Probe:
    def __init__(self, threads: int, data_dir: Path) -> None:
        from llama_cpp import Llama

        info = locate("llm", ModelPaths(data_dir=data_dir, llm_path=Path(QWEN_ALIAS)))
        self.model_name = info.name
        self.llm = Llama(
            model_path=str(info.path), n_ctx=2048, n_threads=threads, n_threads_batch=threads, verbose=False
        )

    def _token(self, text: str) -> int:
        tokens = self.llm.tokenize(text.encode(), add_bos=False, special=False)
        return int(tokens[0])

    def _last_logits(self, system: str, user: str) -> np.ndarray:
        # Qwen2.5's chat template (ChatML), up to the assistant's first token.
        prompt = (
            f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
        self.llm.reset()  # type: ignore[no-untyped-call]
        self.llm.eval(self.llm.tokenize(prompt.encode(), add_bos=False, special=True))
        logits = self.llm._ctx.get_logits_ith(-1)  # only the last position is kept (no logits_all)
        return np.ctypeslib.as_array(logits, shape=(self.llm.n_vocab(),)).copy()

    def score(self, item: dict[str, Any], mode: str) -> tuple[float, list[float]]:
        language = item["language"]
        q_label, a_label = _LABELS[language]
        head = f"{q_label}: {item['question']}\n{a_label}: {item['answer']}\n\n"
        system = _SYSTEM[mode][language]
        if mode == "rating":
            digits = [self._token(str(d)) for d in range(1, 6)]
            logits = self._last_logits(system, head + _RATE[language])[digits]
            p = np.exp(logits - logits.max())
            p /= p.sum()
            return float((p * np.arange(1, 6)).sum()), [float(x) for x in p]
        yes, no = (self._token(w) for w in _YES_NO[language])
        parts = []
        for question in _QUESTIONS[language]:
            logits = self._last_logits(system, head + question)
            a, b = float(logits[yes]), float(logits[no])
            parts.append(1.0 / (1.0 + float(np.exp(b - a))))
        return float(np.mean(parts)), parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", default="calibration", choices=("calibration", "validation"))
    parser.add_argument("--mode", default="yesno", choices=("yesno", "rating"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--data-dir", type=Path, default=Path("data"), help="where the 1.5B GGUF is assembled"
    )
    args = parser.parse_args(argv)
    probe = _Probe(args.threads, args.data_dir)
    print(f"model {probe.model_name}, {args.set} set, mode {args.mode}", flush=True)
    by_language: dict[str, tuple[list[int], list[float]]] = {}
    seconds: list[float] = []
    for item in load_set(args.set):
        start = time.perf_counter()
        score, parts = probe.score(item, args.mode)
        seconds.append(time.perf_counter() - start)
        labels, scores = by_language.setdefault(item["language"], ([], []))
        labels.append(int(item["label"]))
        scores.append(score)
        shown = " ".join(f"{p:.2f}" for p in parts)
        print(
            f"  {item['id']:24s} label={item['label']} score={score:.3f} [{shown}] {seconds[-1]:.1f}s",
            flush=True,
        )
    all_labels = [x for labels, _ in by_language.values() for x in labels]
    all_scores = [x for _, scores in by_language.values() for x in scores]
    fields = [f"set={args.set}", f"mode={args.mode}", f"spearman={spearman(all_labels, all_scores):.3f}"]
    for name, figure in (("spearman", spearman), ("pairwise_pct", pairwise_pct)):
        for language in ("en", "ko"):
            labels, scores = by_language.get(language, ([], []))
            value = f"{figure(labels, scores):.3f}" if labels else "na"
            fields.append(f"{language}_{name}={value}")
    fields.append(f"s_per_answer={statistics.median(seconds):.2f}")
    print(" ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
