"""Every error the engine raises: one class per broken rule, all under :class:`EngineError`.

Messages follow one shape so users can act on them without reading the source::

    update_buffer('particles'): 4096 bytes at offset 65024 exceed the buffer's 65536 bytes;
    write less, or call resize_buffer() first.

i.e. the call, the resource, the rule that was broken and the fix. Every check runs before any
state changes, so a call that raises leaves the manager exactly as it was.

Raw exceptions of the ``vulkan`` bindings (``VkError...``, ``OverflowError``...) never reach a
user: :mod:`engine.device.vk` translates them into :class:`~engine.errors.VulkanError` (or
:class:`~engine.errors.OutOfDeviceMemoryError`).
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error raised by the engine."""


# --- buffers -------------------------------------------------------------------------------


class BufferDestroyedError(EngineError):
    """A buffer was used (or destroyed again) after ``destroy_buffer`` retired it."""


class OutOfBoundsError(EngineError):
    """A write or read range does not fit inside the buffer."""


class InvalidSizeError(EngineError):
    """A size is zero, negative, not an integer or larger than the device allows."""


class InvalidOffsetError(EngineError):
    """An offset is negative, not an integer, or overflows a 64-bit device size."""


class InvalidDataError(EngineError):
    """Data is not bytes-like / a numpy array, or its dtype or layout cannot be uploaded."""


class InvalidStrategyError(EngineError):
    """The strategy is not a :class:`~engine.buffers.types.BufferStrategy` member."""


class InvalidUsageError(EngineError):
    """The usage flags are empty, unknown, or not allowed for the call."""


class InvalidNameError(EngineError):
    """A buffer name is empty or not a string."""


class ForeignBufferError(EngineError):
    """A buffer created by another (or a closed) BufferManager was passed in."""


class InvalidFrameIndexError(EngineError):
    """A frame index is outside ``0 .. frames_in_flight - 1`` or frames are misordered."""


class FrameStateError(EngineError):
    """``begin_frame``/``end_frame`` were called out of order."""


class HostWriteHazardError(EngineError):
    """A host-visible buffer was written while an unfinished frame may still read it."""


class ManagerClosedError(EngineError):
    """A BufferManager, ResourceBinder or context was used after ``close()``."""


class ContextClosedError(ManagerClosedError):
    """An object was used after the GraphicsContext it was made on was closed."""


class WrongThreadError(EngineError):
    """A call came from a thread other than the one that created the GraphicsContext."""


# --- device --------------------------------------------------------------------------------


class VulkanError(EngineError):
    """A Vulkan call failed; the message names the call and the VkResult."""


class OutOfDeviceMemoryError(VulkanError):
    """A device or host memory allocation failed (real or injected)."""


class DeviceNotFoundError(EngineError):
    """No Vulkan physical device matches the request (argument or ``ENGINE_DEVICE``)."""


class NoSuitableMemoryTypeError(EngineError):
    """No memory type of the device satisfies a strategy and the buffer's requirements."""


class BudgetExceededError(OutOfDeviceMemoryError):
    """A new ``VkDeviceMemory`` would take a heap's usage past its budget."""


class NoRoomError(OutOfDeviceMemoryError):
    """No free range fits and the pool may not make a block (defragmentation)."""


# --- shaders, reflection and binding -------------------------------------------------------


class ShaderCompileError(EngineError):
    """``glslangValidator`` rejected a shader; the message has path, line and compiler text."""


class ReflectionError(EngineError):
    """SPIR-V is malformed, truncated or uses a construct the reflector cannot read."""


class SpirvValidationError(ReflectionError):
    """SPIR-V was refused before reaching the driver: the structural check or ``spirv-val``
    rejected it (the message names the word/byte offset or quotes the validator)."""


class LayoutDeclarationError(EngineError, ValueError):
    """A std140/std430 layout declared in Python is malformed (unknown type, bad array size,
    duplicate field name), or a std_layout function got an argument of the wrong kind."""


class LayoutMismatchError(EngineError):
    """A numpy dtype disagrees with a reflected std140/std430 block layout."""


class UnknownBindingError(EngineError):
    """A binding name does not exist in the pipeline's shaders (the message lists those that do)."""


class BindingTypeMismatchError(EngineError):
    """A buffer was bound to a binding of another descriptor type."""


class BindingSizeError(EngineError):
    """A bound buffer (or range) is smaller than the block the shader declares."""


class BindingCountError(EngineError):
    """A per-frame binding got a number of buffers other than 1 or ``frames_in_flight``."""


class ConflictingBindingError(EngineError):
    """Two shader stages declare the same set/binding (or name) differently."""


class UnknownPipelineError(EngineError):
    """A pipeline id that this ResourceBinder did not register (or already released)."""


# --- windowing -----------------------------------------------------------------------------


class WindowError(EngineError):
    """A window, display or swapchain could not be created or used."""


# --- arguments and identity ----------------------------------------------------------------


class InvalidOptionError(EngineError):
    """An option has the wrong type: a yes/no flag that is not ``True``/``False`` (or ``None``
    where allowed), a name list given as one string, a context that is not a GraphicsContext."""


class InvalidGroupCountError(EngineError):
    """Workgroup counts of a dispatch are not integers from 0 to the device's
    ``maxComputeWorkGroupCount``."""


class InvalidPriorityError(EngineError, ValueError):
    """A system order inside a phase is not an integer from 0 to 99, or the phase is unknown."""


class ReadOnlyFieldError(EngineError, AttributeError):
    """A field that the owning manager keeps (size, handle, generation...) was assigned."""


class NotCopyableError(EngineError, TypeError):
    """An object that owns Vulkan handles was copied or pickled; a copy would share them."""


# --- buffer access: zero-copy writes, read-back, scatter updates -------------------------------


class MappedWriteStateError(EngineError):
    """A ``map_write`` block used out of order: entered twice, or exited without entering."""


class MappedBufferChangedError(EngineError):
    """The buffer of a ``map_write`` block was resized or destroyed inside the block."""


class ReadbackNotReadyError(EngineError):
    """``Readback.result()`` before the frame that copies the data completed."""


class ReadbackCancelledError(EngineError):
    """The Readback's manager closed before the copy completed; nothing will arrive."""


class InvalidRowsError(EngineError, ValueError):
    """``update_rows``/``update_ranges``: bad indices, rows or ranges (types, bounds, overlap)."""


# --- packaging -----------------------------------------------------------------------------


class ShadowedPackageError(EngineError, ImportError):
    """A module of the user's named like one of the project's top-level packages
    (``components``, ``systems``, ``games``) comes first on ``sys.path`` and hides it."""

# --- uniform ring and dynamic offsets --------------------------------------------------------


class RingFullError(EngineError):
    """A UniformRing has no room left for this frame's blocks (its capacity is per frame)."""


class RingDataError(InvalidDataError):
    """A value pushed into a UniformRing is not one block of its dtype (or of its size)."""


class RingFrameError(FrameStateError):
    """A UniformRing was pushed outside an open frame (between ``end_frame`` and the next
    ``begin_frame`` its slot's buffer may still be read by the GPU)."""


class RingClosedError(ManagerClosedError):
    """A UniformRing was used after ``close()`` (or after its manager closed)."""


class DynamicBindingError(EngineError):
    """A binding is (or is not) declared dynamic where the call needs the other: a ring bound
    to a plain binding, a plain buffer bound to a dynamic one, or an unusable ``dynamic=`` name."""


class DynamicOffsetError(EngineError):
    """Dynamic offsets of a bind or dispatch: the wrong count, misaligned, or not a block
    pushed into the bound ring in this frame."""


# --- draw API (pipelines, pass recording, render phases) -----------------------------------


class UnknownPhaseError(EngineError, ValueError):
    """A render phase (or target layout) name that the target does not have."""


class VertexInputMismatchError(EngineError):
    """A pipeline's vertex dtypes disagree with the vertex shader's reflected inputs
    (a location with no field, a float field for an integer input, an unsupported dtype)."""


class PassRuleError(EngineError):
    """A pipeline breaks its phase's rules: fragment outputs vs attachments, blending of an
    integer attachment, depth writes where depth is read-only or not tested."""


class DrawStateError(EngineError):
    """A recording call made in the wrong state: no pipeline bound, a draw outside a render
    phase or a dispatch inside one, missing vertex/index buffers, the recorder used after its
    frame."""


class IndirectArgumentError(EngineError):
    """Indirect draw/dispatch arguments out of bounds or misaligned (offset, stride, count)."""


# --- stencil state and GPU-written draw counts ------------------------------------------------


class StencilUnavailableError(EngineError):
    """Stencil state (a pipeline's ``stencil=``, ``DrawContext.set_stencil_reference``) used
    with a target whose depth attachment has no stencil aspect, or a stencil target asked for
    a layout or device that cannot have one."""


class InvalidStencilStateError(EngineError):
    """A :class:`~engine.render.draw.StencilFace` with an unknown op or compare name, or a
    mask or reference that is not an integer from 0 to 255."""


class DrawIndirectCountUnsupportedError(EngineError):
    """``draw_indirect_count``/``draw_indexed_indirect_count`` on a device without the
    Vulkan 1.2 ``drawIndirectCount`` feature."""


# --- incomplete descriptor sets at record time ---------------------------------------------


class MissingBindingError(EngineError):
    """A dispatch or draw recorded with a pipeline whose shader declares a uniform/storage
    buffer binding that nothing is bound to (the GPU would read a never-written descriptor)."""


class DescriptorsNotWrittenError(FrameStateError):
    """A dispatch or draw recorded in a frame slot whose descriptor set never received a
    binding's write (bound after that slot's BINDINGS phase, and ``update_frame``/
    ``update_all`` not run for the slot since)."""
