"""Class 5, identity and mutable fields: a ManagedBuffer is one object (copy and deepcopy
return it, pickle is refused), its manager-kept fields are read-only, and the objects that
own Vulkan handles refuse copy and pickle; nothing a refused call touched changes."""

from case_snippets import NEIGHBOURS, RIG, setup
from hostile_harness import Case

FIELDS = ("name", "size", "strategy", "usage", "dtype", "generation", "memory_type_index",
          "memory_flags", "alive", "created_frame", "last_updated_frame", "handle",
          "capacity", "buffer_id")
NEW_VALUE = {"name": "'other'", "size": "512", "strategy": "C", "usage": "BufferUsage.VERTEX",
             "dtype": "np.dtype('<f4')", "generation": "7", "memory_type_index": "0",
             "memory_flags": "0", "alive": "False", "created_frame": "99",
             "last_updated_frame": "99", "handle": "right.handle", "capacity": "4096",
             "buffer_id": "right.buffer_id"}

CASES: list[Case] = []

for f in FIELDS:
    CASES.append(Case(5, f"read-only-{f.replace('_', '-')}", setup(NEIGHBOURS, f"""
        x = m.create_buffer(BufferConfig("x", 256, H))
        before = x.{f}
        with raises(ReadOnlyFieldError, match="{f}"):
            x.{f} = {NEW_VALUE[f]}
        check(isinstance(ReadOnlyFieldError("t"), AttributeError), "also an AttributeError")
        with raises(ReadOnlyFieldError):
            setattr(x, "{f}", {NEW_VALUE[f]})
        with raises(ReadOnlyFieldError):
            del x.{f}
        check(x.{f} is before or x.{f} == before, "the field changed")
        with raises(OutOfBoundsError):
            m.update_buffer(x, bytes(257))
        m.update_buffer(x, bytes([0x11]) * 256)
        check(m.read_buffer(x) == bytes([0x11]) * 256, "round trip")
        m.destroy_buffer(x)
        still_fine("after assigning {f}")
    """), wrong_data=True))

for op in ("copy.copy", "copy.deepcopy"):
    for strategy in ("H", "D"):
        CASES.append(Case(5, f"{op.split('.')[1]}-buffer-is-same-{strategy.lower()}",
                          setup(NEIGHBOURS, f"""
            import copy
            x = m.create_buffer(BufferConfig("x", 256, {strategy}))
            y = {op}(x)
            check(y is x, "a copy is another object")
            m.destroy_buffer(y)
            check(not x.alive, "destroying the copy left the original alive")
            newer = m.create_buffer(BufferConfig("newer", 256, {strategy}))
            m.update_buffer(newer, bytes([0x77]) * 256)
            with raises(BufferDestroyedError):
                m.update_buffer(x, bytes([0xEE]) * 256)
            with raises(BufferDestroyedError):
                m.destroy_buffer(x)
            with raises(BufferDestroyedError):
                m.read_buffer(x)
            check(m.read_buffer(newer) == bytes([0x77]) * 256, "write landed in a newer buffer")
            still_fine("after {op} of a buffer")
        """), wrong_data=True))

CASES.append(Case(5, "deepcopy-component-keeps-buffer", setup(NEIGHBOURS, """
    import copy
    from dataclasses import dataclass
    @dataclass
    class Mesh:
        vertices: object
        count: int
    x = m.create_buffer(BufferConfig("x", 64, H))
    mesh = Mesh(x, 3)
    clone = copy.deepcopy(mesh)
    check(clone is not mesh and clone.vertices is x, "the component's buffer was duplicated")
    world = {"a": [x, x], "b": (x,)}
    w2 = copy.deepcopy(world)
    check(all(b is x for b in w2["a"] + list(w2["b"])), "nested copies")
    m.update_buffer(clone.vertices, bytes([5]) * 64)
    check(m.read_buffer(x) == bytes([5]) * 64, "one shared state")
    still_fine("after deepcopy of a component")
"""), wrong_data=True))

for proto in range(0, 6):
    CASES.append(Case(5, f"pickle-buffer-protocol-{proto}", setup(NEIGHBOURS, f"""
        import pickle
        x = m.create_buffer(BufferConfig("x", 64, H))
        with raises(NotCopyableError, match="pickle"):
            pickle.dumps(x, protocol={proto})
        with raises(NotCopyableError):
            pickle.dumps([x], protocol={proto})
        m.update_buffer(x, bytes(64))
        still_fine("after pickling a buffer")
    """), wrong_data=True))

OWNERS = {
    "manager": "m",
    "context": "ctx",
    "binder": "binder",
    "bufferset": "BufferSet(m, 64, name='s')",
    "globalubo": "GlobalUboSet(m, 64)",
    "pipeline": "pipe",
    "frame-commands": "cmds",
}
for label, expr in OWNERS.items():
    for op in ("copy.copy", "copy.deepcopy", "pickle.dumps"):
        CASES.append(Case(5, f"{op.split('.')[1]}-{label}-refused", setup(RIG, f"""
            import copy, pickle
            obj = {expr}
            with raises(NotCopyableError, match="{op.replace('.dumps', '')}"):
                {op}(obj)
            dispatch_ok("after {op} of the {label}")
            still_fine("after {op} of the {label}")
        """), wrong_data=True))

CASES.append(Case(5, "resize-keeps-identity-and-private-state", setup(NEIGHBOURS, """
    import copy
    x = m.create_buffer(BufferConfig("x", 64, H))
    ident = id(x)
    m.resize_buffer(x, 300)
    check(id(x) == ident and x.size == 300 and x.generation == 2, "resize")
    check(copy.copy(x) is x and x.nbytes == 300, "copy after resize")
    with raises(ReadOnlyFieldError):
        x.size = 64
    m.update_buffer(x, bytes([3]) * 300)
    check(m.read_buffer(x) == bytes([3]) * 300, "round trip after resize")
    info = x.descriptor_info()
    check(info.range == 300 and info.offset == 0, "descriptor_info")
    still_fine("after resize")
"""), wrong_data=True))

CASES.append(Case(5, "buffer-hash-and-dict-keys", setup(NEIGHBOURS, """
    import copy
    x = m.create_buffer(BufferConfig("x", 64, H))
    table = {x: "x"}
    check(table[copy.copy(x)] == "x" and table[copy.deepcopy(x)] == "x", "dict key")
    check(x == copy.copy(x) and x != left, "equality is identity")
    still_fine("after hashing")
"""), wrong_data=True))
