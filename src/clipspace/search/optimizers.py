"""Optimisers over one GlassProblem: pymoo GA (SBX + polynomial mutation, as the paper) and NSGA-II,
CMA-ES (the cma package), Adam through CLIP's gradients, and a hybrid (CMA-ES, then Adam).

All take a seed, report each generation through `callback(StepInfo)` and return a SearchResult.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from ..progress import StepInfo
from .problem import GlassProblem

OPTIMIZERS = ("ga", "nsga2", "cmaes", "adam", "hybrid")


@dataclass
class SearchConfig:
    optimizer: str = "cmaes"
    generations: int = 30
    population: int = 32
    sigma: float = 0.5  # CMA-ES step size, in units of the initial population's spread
    lr: float = 0.05  # Adam, in units of the initial population's spread
    hybrid_split: float = 0.5  # fraction of generations given to CMA-ES in the hybrid

    def validate(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.generations < 1 or self.population < 2:
            raise ValueError(f"need generations >= 1 and population >= 2, got {self.generations} and {self.population}")


@dataclass
class SearchResult:
    x: torch.Tensor  # (k, n_var) best first
    fitness: torch.Tensor  # (k,)
    history: list[float]  # best fitness after each generation
    evaluations: int
    seconds: float
    front_f: np.ndarray | None = None  # NSGA-II: (M, 2) [fitness, realism] of the Pareto front
    front_x: np.ndarray | None = None
    extras: dict = field(default_factory=dict)


def _report(problem: GlassProblem, history: list[float], step: int, total: int, callback, preview: bool) -> None:
    history.append(problem.best_fitness)
    if callback is not None:
        callback(StepInfo(step=step, total=total, fitness=problem.best_fitness, preview=problem.best_image() if preview else None))


def run_search(problem: GlassProblem, cfg: SearchConfig, seed: int = 0, callback=None, preview: bool = False) -> SearchResult:
    """Run cfg.optimizer on problem; the initial population is drawn from the generator's prior."""
    cfg.validate()
    t0 = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    problem.generator.manual_seed(seed + 1)
    x0 = problem.space.sample(cfg.population, g)
    history: list[float] = []
    extras = {}
    if cfg.optimizer in ("ga", "nsga2"):
        extras = _pymoo(problem, cfg, x0, seed, history, callback, preview)
    elif cfg.optimizer == "cmaes":
        _cmaes(problem, cfg, x0, seed, cfg.generations, history, callback, preview, cfg.generations)
    elif cfg.optimizer == "adam":
        _adam(problem, cfg, x0, cfg.generations, history, callback, preview, 0, cfg.generations)
    else:
        n_cma = max(1, int(round(cfg.generations * cfg.hybrid_split)))
        es = _cmaes(problem, cfg, x0, seed, n_cma, history, callback, preview, cfg.generations)
        if cfg.generations > n_cma:
            # Adam refines a full population drawn from CMA-ES's final distribution (its spread sets
            # Adam's step), with the best point found so far in place of the first draw
            start = torch.as_tensor(np.asarray(es.ask()), dtype=torch.float32)
            start[0] = problem.best_x[0]
            _adam(problem, cfg, start, cfg.generations - n_cma, history, callback, preview, n_cma, cfg.generations)
    return SearchResult(
        x=problem.best_x, fitness=problem.best_f, history=history, evaluations=problem.evaluations,
        seconds=time.perf_counter() - t0, front_f=extras.get("front_f"), front_x=extras.get("front_x"),
    )


def _pymoo(problem: GlassProblem, cfg: SearchConfig, x0: torch.Tensor, seed: int, history, callback, preview) -> dict:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.soo.nonconvex.ga import GA
    from pymoo.core.callback import Callback
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import SBX
    from pymoo.operators.mutation.pm import PM
    from pymoo.optimize import minimize

    multi = cfg.optimizer == "nsga2"
    if multi and problem.critic is None:
        raise ValueError("nsga2 needs a critic for its realism objective")
    lo, hi = problem.space.bounds()

    class _Problem(Problem):
        def __init__(self):
            super().__init__(n_var=len(lo), n_obj=2 if multi else 1, xl=lo, xu=hi)

        def _evaluate(self, x, out, *args, **kwargs):
            ev = problem.evaluate(x)
            out["F"] = np.column_stack([-ev.fitness, -ev.realism]) if multi else -ev.fitness[:, None]

    class _Report(Callback):
        def notify(self, algorithm):
            _report(problem, history, algorithm.n_gen, cfg.generations, callback, preview)

    X0 = np.clip(x0.numpy().astype(np.float64), lo, hi)
    ops = dict(pop_size=cfg.population, sampling=X0, crossover=SBX(prob=0.9, eta=15), mutation=PM(eta=20), eliminate_duplicates=True)
    algorithm = NSGA2(**ops) if multi else GA(**ops)
    res = minimize(_Problem(), algorithm, ("n_gen", cfg.generations), seed=seed, callback=_Report(), verbose=False)
    if not multi:
        return {}
    F = np.atleast_2d(res.F)
    return {"front_f": -F, "front_x": np.atleast_2d(res.X)}


def _cmaes(problem: GlassProblem, cfg: SearchConfig, x0: torch.Tensor, seed: int, generations: int, history, callback, preview, total):
    import cma

    lo, hi = problem.space.bounds()
    rng = np.random.default_rng(seed)
    ev = problem.evaluate(x0)  # the initial population counts as the first generation
    margin = 1e-6 * (hi - lo)
    start = np.clip(x0[int(np.argmax(ev.fitness))].numpy().astype(np.float64), lo + margin, hi - margin)
    spread = x0.std(0).numpy().astype(np.float64) + 1e-6
    opts = {
        "popsize": cfg.population, "seed": math.nan, "randn": lambda *shape: rng.standard_normal(shape),
        "CMA_stds": spread / spread.mean(), "bounds": [lo.tolist(), hi.tolist()], "verbose": -9, "verb_disp": 0,
        "verb_log": 0, "verb_filenameprefix": "", "maxiter": generations,
    }
    es = cma.CMAEvolutionStrategy(start, cfg.sigma * float(spread.mean()), opts)
    _report(problem, history, 1, total, callback, preview)
    for gen in range(1, generations):
        X = np.asarray(es.ask())
        es.tell(list(X), list(-problem.evaluate(X).fitness))
        _report(problem, history, gen + 1, total, callback, preview)
    return es


def _adam(problem: GlassProblem, cfg: SearchConfig, x0: torch.Tensor, steps: int, history, callback, preview, offset: int, total: int) -> None:
    lo, hi = (torch.tensor(b, dtype=torch.float32) for b in problem.space.bounds())
    spread = float(x0.std(0).mean()) if len(x0) > 1 else 1.0
    x = x0.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=cfg.lr * max(spread, 1e-3))
    for step in range(steps):
        f, _ = problem.fitness(x, grad=True)
        opt.zero_grad(set_to_none=True)
        (-f.sum()).backward()
        opt.step()
        with torch.no_grad():
            x.copy_(torch.maximum(torch.minimum(x, hi), lo))
        _report(problem, history, offset + step + 1, total, callback, preview)
    problem.evaluate(x.detach())  # score the final point too
