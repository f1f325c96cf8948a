"""Cases that must pass before any other: the harness itself sees a crash, a raw exception,
a leak and wrong data (tests/hostile/test_harness.py runs these expecting failure)."""

from hostile_harness import Case

CASES = [
    Case(12, "harness-baseline-clean-round-trip", """
        m = BufferManager(ctx)
        b = m.create_buffer(BufferConfig("b", 256, BufferStrategy.HOST_VISIBLE,
                                         BufferUsage.STORAGE))
        m.update_buffer(b, bytes(range(256)))
        check(m.read_buffer(b) == bytes(range(256)), "round trip")
        with raises(OutOfBoundsError):
            m.update_buffer(b, b"x" * 257)
    """, wrong_data=True),
]
