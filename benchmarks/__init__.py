"""FlowWeaver's benchmarks: ``python -m benchmarks`` (``make bench``).

Each case times the engine against a reference doing the same work without it
(a plain loop, ``ThreadPoolExecutor.map``, ``asyncio.gather``, ``graphlib``…),
interleaved in one process, so that the ratio holds on a noisy machine.
"""
