"""Protocol: how an evaluation is run and what it records.

- :mod:`~aegen.evaluate.protocol.config`: what ``aegen evaluate`` and ``aegen sweep`` take
  (:class:`EvaluateConfig`, :class:`SweepConfig`), declared once.
- :mod:`~aegen.evaluate.protocol.seeds`: every seed derived from ``--seed``; package versions.
- :mod:`~aegen.evaluate.protocol.subsets`: the held-out and training subsets an evaluation uses.
- :mod:`~aegen.evaluate.protocol.references`: the references prepared once (features, faces,
  nearest training images, copying tests), cached.
- :mod:`~aegen.evaluate.protocol.evaluator`: :class:`Evaluator`, which scores sets against them.
- :mod:`~aegen.evaluate.protocol.repeats`: the sample sets of a sampler row (fits and repeats).
- :mod:`~aegen.evaluate.protocol.summary`: intervals and paired differences over every row.
- :mod:`~aegen.evaluate.protocol.rows`: the result types and the declared table columns.
- :mod:`~aegen.evaluate.protocol.record`: :class:`EvalProtocol`, the protocol as a type.
- :mod:`~aegen.evaluate.protocol.describe`: the protocol of a fitted evaluator, as metrics.json records it.
- :mod:`~aegen.evaluate.protocol.evaluation` and :mod:`~aegen.evaluate.protocol.sweep`:
  ``aegen evaluate`` and ``aegen sweep``, resumable through the cache.
"""
