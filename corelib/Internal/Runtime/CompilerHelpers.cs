using System;
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Internal.Runtime.CompilerHelpers
{
    /// <summary>Throw sites ILC's generated code calls for failed runtime checks.</summary>
    internal static class ThrowHelpers
    {
        private static void ThrowOverflowException() => throw new OverflowException();
        private static void ThrowIndexOutOfRangeException() => throw new IndexOutOfRangeException();
        private static void ThrowNullReferenceException() => throw new NullReferenceException();
        private static void ThrowDivideByZeroException() => throw new DivideByZeroException();
        private static void ThrowArrayTypeMismatchException() => throw new ArrayTypeMismatchException();
        private static void ThrowPlatformNotSupportedException() => throw new PlatformNotSupportedException();
        private static void ThrowTypeLoadException() => throw new NotSupportedException("A type could not be loaded.");
        private static void ThrowArgumentException() => throw new ArgumentException();
        private static void ThrowArgumentOutOfRangeException() => throw new ArgumentOutOfRangeException();
        private static void ThrowInvalidProgramException() => throw new NotSupportedException("The compiler found invalid IL.");
        private static void ThrowFeatureBodyRemoved() => throw new NotSupportedException("This code was removed by the compiler.");
        private static void ThrowNotSupportedException() => throw new NotSupportedException();
    }

    /// <summary>
    /// Start-up work every image does once, before managed code touches a static of reference type:
    /// giving each type's GC statics their backing object.
    /// </summary>
    public static unsafe class StartupCodeHelpers
    {
        // ReadyToRun section ids (ModuleHeaders.h, ReadyToRunSectionType): the GC static region.
        private const int GCStaticRegionSection = 201;

        // Low bits of a GC static block's first word (GCStaticRegionConstants in the runtime).
        private const nint Uninitialized = 1;
        private const nint HasPreInitializedData = 2;
        private const nint FlagsMask = 3;

        /// <summary>
        /// Walks the modules list the linker brackets with the given bounds. Each entry points at a
        /// ReadyToRun header ("RTR") followed by rows {section id, flags, start, end}.
        /// </summary>
        public static void InitializeModules(nint* modulesStart, nint* modulesEnd)
        {
            for (nint* module = modulesStart; module < modulesEnd; module++)
            {
                if (*module == 0) continue;
                ReadyToRunHeader* header = (ReadyToRunHeader*)*module;
                if (header->Signature != ReadyToRunHeader.ExpectedSignature)
                {
                    Fatal.Stop("A module's ReadyToRun header has a bad signature.", null);
                }
                ModuleInfoRow* rows = (ModuleInfoRow*)(header + 1);
                for (int i = 0; i < header->NumberOfSections; i++)
                {
                    if (rows[i].SectionId == GCStaticRegionSection)
                    {
                        InitializeGCStatics(rows[i].Start, rows[i].End);
                    }
                }
            }
        }

        private static void InitializeGCStatics(byte* start, byte* end)
        {
            // The region is an array of 32-bit self-relative pointers to blocks. A block's first word is a
            // self-relative pointer to the MethodTable of the statics holder, tagged in its low bits. Once
            // initialised, the word is overwritten by a reference to the holder object (untagged).
            for (int* entry = (int*)start; entry < (int*)end; entry++)
            {
                nint* block = (nint*)ReadRelative32(entry);
                nint tagged = (nint)ReadRelative32((int*)block);
                if ((tagged & Uninitialized) == 0) continue;
                MethodTable* holderType = (MethodTable*)(tagged & ~FlagsMask);
                object holder = Heap.AllocateObject(holderType);
                if ((tagged & HasPreInitializedData) != 0)
                {
                    // The next word points at a blob with the holder's fields as the compiler
                    // evaluated them (references to frozen objects): copy it over the fields.
                    byte* data = ReadRelative32((int*)block + 1);
                    SpanHelpers.Memmove(ref Unsafe.As<RawObject>(holder).Data, ref *data, holderType->FieldBytes);
                }
                *block = Unsafe.As<object, nint>(ref holder);
            }
        }

        private static byte* ReadRelative32(int* address) => (byte*)address + *address;

        [StructLayout(LayoutKind.Sequential)]
        private struct ReadyToRunHeader
        {
            internal const uint ExpectedSignature = 0x00525452; // "RTR"

            internal uint Signature;
            internal ushort MajorVersion;
            internal ushort MinorVersion;
            internal uint Flags;
            internal ushort NumberOfSections;
            internal byte EntrySize;
            internal byte EntryType;
        }

        [StructLayout(LayoutKind.Sequential)]
        private struct ModuleInfoRow
        {
            internal int SectionId;
            internal int Flags;
            internal byte* Start;
            internal byte* End;
        }
    }
}

namespace System.Runtime.CompilerServices
{
    /// <summary>A type's static-constructor state, shared with the compiler: the constructor's address, 0 once run.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct StaticClassConstructionContext
    {
        public volatile IntPtr cctorMethodAddress;
    }

    /// <summary>
    /// Runs static constructors on first use. There is one CPU running managed code per image and no
    /// threads yet, so a constructor cannot race with itself; a constructor that re-enters its own type
    /// sees it as initialised, as ECMA-335 II.10.5.3.3 allows for recursion.
    /// </summary>
    internal static unsafe class ClassConstructorRunner
    {
        private static object CheckStaticClassConstructionReturnGCStaticBase(StaticClassConstructionContext* context, object gcStaticBase)
        {
            EnsureClassConstructorRun(context);
            return gcStaticBase;
        }

        private static IntPtr CheckStaticClassConstructionReturnNonGCStaticBase(StaticClassConstructionContext* context, IntPtr nonGcStaticBase)
        {
            EnsureClassConstructorRun(context);
            return nonGcStaticBase;
        }

        public static void EnsureClassConstructorRun(StaticClassConstructionContext* context)
        {
            IntPtr constructor = context->cctorMethodAddress;
            if (constructor == IntPtr.Zero) return;
            context->cctorMethodAddress = IntPtr.Zero;
            ((delegate*<void>)constructor)();
        }
    }
}
