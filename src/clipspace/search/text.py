"""Image -> text through CLIP: GLaSS's search over the caption model's integer prefix, and a fast
CLIP-guided decoder (MAGIC-style: at each step the LM's top-k next words are re-ranked by CLIP)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..models.caption_lm import CaptionLM
from ..models.clip import ClipSpace
from ..progress import StepInfo


@dataclass
class CaptionSearchResult:
    captions: list[str]  # best first
    scores: list[float]  # CLIP cosine similarity to the image
    history: list[float]
    evaluations: int


class _CaptionScorer:
    """CLIP similarity of captions to one image embedding, memoised (GA populations repeat captions)."""

    def __init__(self, clip: ClipSpace, image_emb: torch.Tensor):
        self.clip, self.image_emb, self.cache = clip, image_emb, {}
        self.evaluations = 0

    def __call__(self, captions: list[str]) -> np.ndarray:
        new = sorted({c for c in captions if c not in self.cache})
        if new:
            sims = (self.clip.encode_text(new) @ self.image_emb).tolist()
            self.cache.update(zip(new, sims))
            self.evaluations += len(new)
        return np.array([self.cache[c] for c in captions])

    def best(self, k: int) -> tuple[list[str], list[float]]:
        ranked = sorted(self.cache.items(), key=lambda t: -t[1])[:k]
        return [c for c, _ in ranked], [s for _, s in ranked]


def prefix_search(
    lm: CaptionLM, clip: ClipSpace, image_emb: torch.Tensor, *, prefix_length: int = 3, population: int = 32,
    generations: int = 10, seed: int = 0, num_captions: int = 3, callback=None, lm_start: bool = True,
) -> CaptionSearchResult:
    """GLaSS image->text: a GA (pymoo, SBX + polynomial mutation with rounding) over integer prefix tokens;
    each prefix is completed greedily by the caption model and scored by CLIP against the image.

    lm_start: the first population is the opening tokens of captions sampled from the caption model (uniformly
    random prefixes, as in the paper, when False: they decode to word salad that CLIP scores no better)."""
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.callback import Callback
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.operators.repair.rounding import RoundingRepair
    from pymoo.operators.sampling.rnd import IntegerRandomSampling
    from pymoo.optimize import minimize

    tok = lm.tokenizer
    first_word = max(tok.pad_token_id, tok.unk_token_id, tok.bos_token_id, tok.eos_token_id) + 1
    scorer = _CaptionScorer(clip, image_emb)
    history: list[float] = []

    def captions_for(x: np.ndarray) -> list[str]:
        ids = torch.as_tensor(np.rint(x), dtype=torch.long)
        prefix = torch.cat([torch.full((len(ids), 1), tok.bos_token_id), ids], 1)
        return lm.continue_greedy(prefix)

    class _Problem(Problem):
        def __init__(self):
            super().__init__(n_var=prefix_length, n_obj=1, xl=first_word, xu=lm.vocab_size - 1, vtype=int)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = -scorer(captions_for(x))[:, None]

    class _Report(Callback):
        def notify(self, algorithm):
            history.append(scorer.best(1)[1][0])
            if callback is not None:
                callback(StepInfo(step=algorithm.n_gen, total=generations, fitness=history[-1]))

    start = _lm_prefixes(lm, population, prefix_length, first_word, seed) if lm_start else IntegerRandomSampling()
    algorithm = GA(
        pop_size=population, sampling=start,
        crossover=SBX(prob=0.9, eta=15, vtype=float, repair=RoundingRepair()),
        mutation=PM(eta=20, vtype=float, repair=RoundingRepair()), eliminate_duplicates=True,
    )
    minimize(_Problem(), algorithm, ("n_gen", generations), seed=seed, callback=_Report(), verbose=False)
    captions, scores = scorer.best(num_captions)
    return CaptionSearchResult(captions, scores, history, scorer.evaluations)


@torch.no_grad()
def _lm_prefixes(lm: CaptionLM, n: int, length: int, first_word: int, seed: int) -> np.ndarray:
    """(n, length) opening word ids of n sampled captions; a caption shorter than `length` is padded with random words."""
    g = torch.Generator().manual_seed(seed)
    ids = lm.generate_ids(torch.full((n, 1), lm.tokenizer.bos_token_id), greedy=False, generator=g)[:, 1 : 1 + length]
    ids = torch.nn.functional.pad(ids, (0, length - ids.shape[1]), value=lm.tokenizer.pad_token_id)
    random_words = torch.randint(first_word, lm.vocab_size, ids.shape, generator=g)
    return torch.where(ids >= first_word, ids, random_words).numpy()


@torch.no_grad()
def guided_decode(
    lm: CaptionLM, clip: ClipSpace, image_emb: torch.Tensor, *, top_k: int = 8, beam: int = 4, clip_weight: float = 1.0,
    lm_weight: float = 0.1, plausibility: float = 0.1, num_captions: int = 3, callback=None,
    refine: int = 0, max_span: int = 4,
) -> CaptionSearchResult:
    """Beam search where each beam's top-k next words are re-ranked by CLIP similarity of the partial
    caption to the image plus a small LM log-prob term (mean per token); finished captions are ranked
    the same way. Only words the LM finds plausible are candidates: p >= plausibility * the top word's p
    (contrastive decoding's adaptive plausibility constraint), so CLIP cannot pick an ending, or a
    word, the language model all but rules out ("... on a white background to")."""
    tok = lm.tokenizer
    scorer = _CaptionScorer(clip, image_emb)
    beams = [([tok.bos_token_id], 0.0)]
    finished: dict[str, float] = {}
    history: list[float] = []
    for step in range(lm.max_length - 1):
        ids = torch.tensor([b[0] for b in beams])
        logp = lm.model(input_ids=ids).logits[:, -1].float().log_softmax(-1)
        logp[:, [tok.pad_token_id, tok.bos_token_id, tok.unk_token_id]] = float("-inf")
        cands = []
        top = logp.topk(top_k, dim=-1)
        floor = top.values[:, :1] + np.log(plausibility)  # (beams, 1)
        for (seq, lp), vals, idx, fl in zip(beams, top.values.tolist(), top.indices.tolist(), floor[:, 0].tolist()):
            for v, t in zip(vals, idx):
                if v >= fl:
                    cands.append((seq + [t], lp + v))
        texts = [lm.decode(torch.tensor([s]))[0] for s, _ in cands]
        sims = scorer(texts)
        score = lambda c: clip_weight * c[2] + lm_weight * c[0][1] / len(c[0][0])  # noqa: E731
        ranked = sorted(zip(cands, texts, sims), key=lambda c: -score(c))
        beams = []
        for c in ranked:
            (seq, lp), text, sim = c
            if seq[-1] == tok.eos_token_id or len(seq) >= lm.max_length - 1:
                if text:
                    finished[text] = max(finished.get(text, -np.inf), score(c))
            elif len(beams) < beam:
                beams.append((seq, lp))
        history.append(max(scorer.cache[t] for t in finished) if finished else float("nan"))
        if callback is not None:
            callback(StepInfo(step=step + 1, total=lm.max_length - 1, fitness=history[-1]))
        if not beams:
            break
    if refine and finished:
        best = max(finished, key=finished.get)
        # as wide as the beam's word choice: five places follow "at the", and a narrower search missed the first
        # object's place in pair captions (val pairs, position right 41 % with 4 words x 8 spans per gap, 48 % with 8 x 16)
        text, value = insert_spans(lm, scorer, best, rounds=refine, max_span=max_span, top_k=top_k, per_gap=2 * top_k,
                                   plausibility=plausibility, clip_weight=clip_weight, lm_weight=lm_weight)
        finished[text] = value
    ranked = [c for c, _ in sorted(finished.items(), key=lambda t: -t[1])[:num_captions]]
    return CaptionSearchResult(ranked, [scorer.cache[c] for c in ranked], history, scorer.evaluations)


def _padded_logits(lm: CaptionLM, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The LM's logits for id rows of any lengths right-padded into one batch, that batch, and the rows' lengths."""
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.tensor([r + [lm.tokenizer.pad_token_id] * (int(lengths.max()) - len(r)) for r in rows])
    mask = (torch.arange(ids.shape[1]) < lengths[:, None]).long()
    return lm.model(input_ids=ids, attention_mask=mask).logits, ids, lengths


def _next_word_logp(lm: CaptionLM, rows: list[list[int]]) -> torch.Tensor:
    """(len(rows), vocab) log-probs of the word after each id row."""
    logits, _, lengths = _padded_logits(lm, rows)
    return logits[torch.arange(len(rows)), lengths - 1].float().log_softmax(-1)


@torch.no_grad()
def _plausible_rows(lm: CaptionLM, rows: list[list[int]], plausibility: float) -> tuple[torch.Tensor, torch.Tensor]:
    """For [BOS] ... [EOS] id rows: whether every word is within the LM's plausibility floor where it stands (as the
    guided decoder's candidates are), and the summed log-prob per row divided by its length, [BOS] counted (the decoder's LM term)."""
    tok = lm.tokenizer
    logits, ids, lengths = _padded_logits(lm, rows)
    real = (torch.arange(ids.shape[1]) < lengths[:, None])[:, 1:]
    logp = logits[:, :-1].float().log_softmax(-1)
    logp[..., [tok.pad_token_id, tok.bos_token_id, tok.unk_token_id]] = float("-inf")
    chosen = logp.gather(-1, ids[:, 1:, None])[..., 0].masked_fill(~real, 0.0)
    ok = ((chosen >= logp.amax(-1) + np.log(plausibility)) | ~real).all(1)
    return ok, chosen.sum(1) / lengths


@torch.no_grad()
def insert_spans(
    lm: CaptionLM, scorer: _CaptionScorer, text: str, *, rounds: int = 2, max_span: int = 4, top_k: int = 4,
    per_gap: int = 8, plausibility: float = 0.1, clip_weight: float = 1.0, lm_weight: float = 0.1,
) -> tuple[str, float]:
    """Polish a finished caption by inserting the phrases the LM would write at each gap ("a blue star" ->
    "a small blue star at the top"), kept when the decoder's score (CLIP + LM term) rises and every word of
    the new caption stays within the LM's plausibility floor. A left-to-right beam must choose "a small"
    before it sees "blue", and a position before the relation that follows; an insertion sees the whole caption."""
    tok = lm.tokenizer
    special = [tok.pad_token_id, tok.bos_token_id, tok.unk_token_id, tok.eos_token_id]
    enc = lm.encode([text])
    ids = enc["input_ids"][0][enc["attention_mask"][0].bool()].tolist()
    value = clip_weight * float(scorer([text])[0]) + lm_weight * float(_plausible_rows(lm, [ids], plausibility)[1][0])
    for _ in range(rounds):
        cands, room = [], min(max_span, lm.max_length - len(ids))  # a caption never outgrows the LM's context
        # one frontier of growing spans per gap (before ids[gap]: after [BOS] ... before [EOS]); every gap's frontier
        # goes through the LM as one right-padded batch per depth
        frontiers = {gap: [(ids[:gap], 0.0)] for gap in range(1, len(ids))}
        for _depth in range(room):
            rows = [(gap, f, lp) for gap, frontier in frontiers.items() for f, lp in frontier]
            if not rows:
                break
            logp = _next_word_logp(lm, [f for _, f, _ in rows])
            logp[:, special] = float("-inf")
            top = logp.topk(top_k, dim=-1)
            grown: dict[int, list] = {gap: [] for gap in frontiers}
            for (gap, f, lp), vals, idx in zip(rows, top.values.tolist(), top.indices.tolist()):
                grown[gap] += [(f + [t], lp + v) for v, t in zip(vals, idx) if v >= vals[0] + np.log(plausibility)]
            frontiers = {gap: sorted(g, key=lambda c: -c[1])[:per_gap] for gap, g in grown.items() if g}
            cands += [f + ids[gap:] for gap, frontier in frontiers.items() for f, _ in frontier]
        if not cands:
            break
        ok, lm_term = _plausible_rows(lm, cands, plausibility)
        keep = [i for i in range(len(cands)) if ok[i]]
        if not keep:
            break
        texts = lm.decode(torch.nn.utils.rnn.pad_sequence([torch.tensor(cands[i]) for i in keep], batch_first=True, padding_value=tok.pad_token_id))
        total = clip_weight * scorer(texts) + lm_weight * lm_term[keep].numpy()
        j = int(total.argmax())
        if total[j] <= value:
            break
        ids, text, value = cands[keep[j]], texts[j], float(total[j])
    return text, value
