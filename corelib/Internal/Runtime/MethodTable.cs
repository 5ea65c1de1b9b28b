using System.Runtime.CompilerServices;

namespace Internal.Runtime
{
    /// <summary>
    /// The head of NativeAOT's per-type descriptor (runtime/src/coreclr/nativeaot/Runtime/inc/MethodTable.h):
    /// only the fields this runtime reads. Instances live in the image's read-only data.
    /// </summary>
    internal unsafe struct MethodTable
    {
        // Bit 31 says the low 16 bits hold the size of one array element or string character.
        private const uint HasComponentSizeFlag = 0x80000000;

        // The type's kind (EETypeElementType in MethodTable.h) sits in bits 26-30 of the flags.
        private const int ElementTypeShift = 26;
        private const uint ElementTypeMask = 0x7C000000;

        internal uint Flags;
        internal uint BaseSize;
        internal MethodTable* RelatedType;
        internal ushort NumVtableSlots;
        internal ushort NumInterfaces;
        internal uint HashCode;

        internal bool HasComponentSize => (Flags & HasComponentSizeFlag) != 0;

        internal ushort ComponentSize => HasComponentSize ? (ushort)Flags : (ushort)0;

        /// <summary>
        /// Bytes of an instance's fields (for a boxed value type, its payload): the base size less the
        /// object header and the MethodTable pointer, which the base size counts.
        /// </summary>
        internal uint FieldBytes => BaseSize - 2 * (uint)sizeof(nint);

        internal uint ElementType => (Flags & ElementTypeMask) >> ElementTypeShift;

        /// <summary>The base type, for a class; the element type, for an array.</summary>
        internal MethodTable* BaseOrElementType => RelatedType;

        /// <summary>The interfaces a type implements follow its vtable (MethodTable.h: GetInterfaceMap).</summary>
        internal MethodTable** InterfaceMap
        {
            get
            {
                fixed (MethodTable* self = &this)
                {
                    return (MethodTable**)((byte*)self + sizeof(MethodTable) + NumVtableSlots * sizeof(nint));
                }
            }
        }

        /// <summary>String's MethodTable, read off a literal (literals are frozen objects in the image).</summary>
        internal static MethodTable* OfString => "".m_pEEType;
    }
}
