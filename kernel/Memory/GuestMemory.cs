using System;
using Keel.Kernel.Objects;

namespace Keel.Kernel.Memory
{
    /// <summary>
    /// The only way the kernel reads or writes memory a domain names (Xen's copy_from_guest/copy_to_guest):
    /// each page is translated through the vCPU's own page tables in software (GuestWalk), so an address the
    /// guest could not use itself (the kernel's, another domain's, unmapped, read-only for a write) fails
    /// with false instead of faulting, and the copy goes through the direct map. A partial copy can happen
    /// when a later page fails; callers treat false as -EFAULT and do not use what was copied.
    /// </summary>
    internal static unsafe class GuestMemory
    {
        internal static bool TryRead(Vcpu vcpu, ulong address, Span<byte> into)
        {
            for (int done = 0; done < into.Length;)
            {
                if (!TryChunk(vcpu, address, done, into.Length, write: false, out byte* page, out int chunk)) return false;
                new ReadOnlySpan<byte>(page, chunk).CopyTo(into.Slice(done, chunk));
                done += chunk;
            }
            return true;
        }

        internal static bool TryWrite(Vcpu vcpu, ulong address, ReadOnlySpan<byte> from)
        {
            for (int done = 0; done < from.Length;)
            {
                if (!TryChunk(vcpu, address, done, from.Length, write: true, out byte* page, out int chunk)) return false;
                from.Slice(done, chunk).CopyTo(new Span<byte>(page, chunk));
                done += chunk;
            }
            return true;
        }

        /// <summary>
        /// The part of [address + done, address + length) that lies in one guest page, through the direct map:
        /// false if the address wraps or the guest could not make that access itself.
        /// </summary>
        private static bool TryChunk(Vcpu vcpu, ulong address, int done, int length, bool write, out byte* page, out int chunk)
        {
            page = null;
            chunk = 0;
            ulong at = address + (ulong)done;
            if (at < address) return false;
            if (!GuestWalk.TryTranslate(default(DirectMap), vcpu.CurrentTable, at, write, out ulong physical)) return false;
            page = DirectMap.Pointer(physical);
            chunk = Math.Min(length - done, (int)(4096 - (at & 0xFFF)));
            return true;
        }

        internal static bool TryRead<T>(Vcpu vcpu, ulong address, out T value) where T : unmanaged
        {
            T copy = default;
            bool ok = TryRead(vcpu, address, new Span<byte>(&copy, sizeof(T)));
            value = copy;
            return ok;
        }
    }
}
