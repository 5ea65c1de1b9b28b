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
            int done = 0;
            while (done < into.Length)
            {
                ulong at = address + (ulong)done;
                if (at < address) return false;
                if (!GuestWalk.TryTranslate(default(DirectMap), vcpu.CurrentTable, at, write: false, out ulong physical)) return false;
                int chunk = Math.Min(into.Length - done, (int)(4096 - (at & 0xFFF)));
                new ReadOnlySpan<byte>(DirectMap.Pointer(physical), chunk).CopyTo(into.Slice(done, chunk));
                done += chunk;
            }
            return true;
        }

        internal static bool TryWrite(Vcpu vcpu, ulong address, ReadOnlySpan<byte> from)
        {
            int done = 0;
            while (done < from.Length)
            {
                ulong at = address + (ulong)done;
                if (at < address) return false;
                if (!GuestWalk.TryTranslate(default(DirectMap), vcpu.CurrentTable, at, write: true, out ulong physical)) return false;
                int chunk = Math.Min(from.Length - done, (int)(4096 - (at & 0xFFF)));
                from.Slice(done, chunk).CopyTo(new Span<byte>(DirectMap.Pointer(physical), chunk));
                done += chunk;
            }
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
