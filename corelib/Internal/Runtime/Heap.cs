using System;
using System.Runtime.CompilerServices;

namespace Internal.Runtime
{
    /// <summary>
    /// The object allocator behind the RhpNew* helpers. There is no garbage collector: objects live for the
    /// life of the image, so images allocate at start-up and reuse what they allocated. The heap hands out
    /// zeroed memory from regions the image donates (a boot-time region first, frames later).
    /// Invariant: Current &lt;= Limit, and [Current, Limit) is owned by the heap and not yet handed out.
    /// </summary>
    public static unsafe class Heap
    {
        // An 8-byte object header precedes every object; the MethodTable's base size counts it.
        private const int HeaderSize = 8;

        private static byte* s_current;
        private static byte* s_limit;
        private static ulong s_allocatedBytes;
        private static ulong s_donatedBytes;

        /// <summary>Bytes handed out to objects so far.</summary>
        public static ulong AllocatedBytes => s_allocatedBytes;

        /// <summary>Bytes left in the current region.</summary>
        public static ulong AvailableBytes => (ulong)(s_limit - s_current);

        /// <summary>Bytes ever given to the heap.</summary>
        public static ulong DonatedBytes => s_donatedBytes;

        /// <summary>
        /// Gives the heap a region to allocate from. The rest of the current region is abandoned when the new
        /// one is larger, so a small boot region can be replaced by a large one later.
        /// </summary>
        public static void Donate(byte* start, nuint length)
        {
            s_donatedBytes += length;
            if ((nuint)(s_limit - s_current) < length)
            {
                s_current = start;
                s_limit = start + length;
            }
        }

        internal static object AllocateObject(MethodTable* type)
        {
            return ToObject(Allocate(type, type->BaseSize));
        }

        internal static object AllocateArrayLike(MethodTable* type, uint length)
        {
            if ((int)length < 0) Fatal.Stop("Array length is negative or too large.", null);
            ulong size = type->BaseSize + (ulong)length * type->ComponentSize;
            if (size > int.MaxValue) Fatal.Stop("Array is too large.", null);
            byte* obj = Allocate(type, (uint)size);
            // Arrays and strings keep their element count right after the MethodTable pointer.
            *(uint*)(obj + sizeof(MethodTable*)) = length;
            return ToObject(obj);
        }

        private static byte* Allocate(MethodTable* type, uint size)
        {
            ulong rounded = ((ulong)size + 7) & ~7UL;
            if (s_current == null || (ulong)(s_limit - s_current) < rounded)
            {
                Fatal.Stop("Out of memory: the object heap is exhausted.", null);
            }
            byte* block = s_current;
            s_current += rounded;
            s_allocatedBytes += rounded;
            SpanHelpers.ClearWithoutReferences(ref *block, (nuint)rounded);
            // The block is [header][MethodTable*][fields]; an object reference points at the MethodTable slot.
            byte* obj = block + HeaderSize;
            *(MethodTable**)obj = type;
            return obj;
        }

        private static object ToObject(byte* address)
        {
            nint raw = (nint)address;
            return Unsafe.As<nint, object>(ref raw);
        }
    }
}
