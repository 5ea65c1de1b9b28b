using Keel.Ringlib.Xen;
using Keel.Kernel.Memory;
using Keel.Kernel.Paging;

namespace Keel.Kernel.Tests;

/// <summary>What a scan of every validated table found.</summary>
internal sealed class PagingScan
{
    /// <summary>Frames some L1 entry maps writable.</summary>
    public readonly HashSet<ulong> WritableMapped = [];

    /// <summary>Frames in use as tables (type count above 0).</summary>
    public readonly HashSet<ulong> Tables = [];

    /// <summary>Frames some L1 entry maps (RAM only), with the owner they have now.</summary>
    public readonly Dictionary<ulong, ushort> Mapped = [];

    public readonly List<string> Violations = [];
}

/// <summary>
/// Recomputes from scratch, by scanning every table, what the frame table must say, and checks the
/// guarantees of direct paging: no table mapped writable, no table mapping a frame its domain does not
/// own, every count equal to the references that exist, the hypervisor slots as the template says.
/// </summary>
internal static class PagingInvariants
{
    public static PagingScan Scan(PagingMachine m, IEnumerable<VcpuTables> vcpus, TestIo io)
    {
        var scan = new PagingScan();
        int n = m.FrameCount;
        var refs = new long[n];
        var types = new long[n];
        var linear = new long[n];
        var holdsLinear = new bool[n];
        var isLinearTarget = new bool[n];
        for (ulong mfn = 0; mfn < (ulong)n; mfn++)
        {
            FrameInfo f = m.Frames[mfn];
            if (f.IsAllocated) refs[mfn]++;
            if (f.IsPinned) { refs[mfn]++; types[mfn]++; }
        }
        foreach (var vcpu in vcpus)
        {
            foreach (ulong l4 in new[] { vcpu.KernelL4, vcpu.UserL4 })
            {
                if (l4 == 0) continue;
                refs[l4]++;
                types[l4]++;
                if (m.Frames[l4].Type != PageType.L4) scan.Violations.Add($"base pointer {l4} is not an L4");
            }
        }
        for (ulong t = 0; t < (ulong)n; t++)
        {
            FrameInfo f = m.Frames[t];
            if (!FrameTableIsTable(f.Type) || f.TypeCount == 0) continue;
            scan.Tables.Add(t);
            if (!f.IsValidated) scan.Violations.Add($"table {t} in use but not validated");
            if (f.Type == PageType.L1) ScanL1(m, t, f, io, scan, refs, types);
            else ScanUpper(m, t, f, scan, refs, types, linear, holdsLinear, isLinearTarget);
        }
        CompareCounts(m, scan, refs, types, linear, holdsLinear, isLinearTarget);
        return scan;
    }

    private static bool FrameTableIsTable(PageType type) => type is >= PageType.L1 and <= PageType.L4;

    private static void ScanL1(PagingMachine m, ulong t, FrameInfo f, TestIo io, PagingScan scan, long[] refs, long[] types)
    {
        Span<ulong> entries = m.Table(t);
        for (int i = 0; i < 512; i++)
        {
            ulong e = entries[i];
            if (!EntryRules.IsPresent(e)) continue;
            if ((e & EntryRules.L1Disallowed(io.HasIoAccess(f.Owner))) != 0) scan.Violations.Add($"L1 {t}[{i}] has refused flags {e:x}");
            if ((e & EntryRules.User) == 0) scan.Violations.Add($"L1 {t}[{i}] lacks the user bit");
            ulong target = EntryRules.FrameOf(e);
            if (m.Frames.OwnerOf(target) == DomainIds.Io)
            {
                if (!io.MayMapIo(f.Owner, target)) scan.Violations.Add($"L1 {t}[{i}] maps I/O frame {target} without permission");
                continue;
            }
            if (m.Frames.OwnerOf(target) != f.Owner) scan.Violations.Add($"L1 {t}[{i}] of d{f.Owner} maps frame {target} of d{m.Frames.OwnerOf(target)}");
            refs[target]++;
            scan.Mapped[target] = m.Frames.OwnerOf(target);
            if (!EntryRules.IsWritable(e)) continue;
            types[target]++;
            scan.WritableMapped.Add(target);
            if (m.Frames[target].Type != PageType.Writable) scan.Violations.Add($"L1 {t}[{i}] maps frame {target} of type {m.Frames[target].Type} writable");
        }
    }

    private static void ScanUpper(PagingMachine m, ulong t, FrameInfo f, PagingScan scan, long[] refs, long[] types,
                                  long[] linear, bool[] holdsLinear, bool[] isLinearTarget)
    {
        Span<ulong> entries = m.Table(t);
        for (int i = 0; i < 512; i++)
        {
            if (f.Type == PageType.L4 && !EntryRules.IsGuestL4Slot(i)) continue;
            ulong e = entries[i];
            if (!EntryRules.IsPresent(e)) continue;
            if ((e & EntryRules.DisallowedUpper) != 0) scan.Violations.Add($"{f.Type} {t}[{i}] has refused flags {e:x}");
            ulong target = EntryRules.FrameOf(e);
            FrameInfo tf = m.Frames[target];
            if (target == t)
            {
                if (EntryRules.IsWritable(e)) scan.Violations.Add($"{f.Type} {t}[{i}] maps itself writable");
                continue;
            }
            if (tf.Owner != f.Owner) scan.Violations.Add($"{f.Type} {t}[{i}] of d{f.Owner} points to frame {target} of d{tf.Owner}");
            if (tf.Type == f.Type)
            {
                if (EntryRules.IsWritable(e)) scan.Violations.Add($"linear entry {t}[{i}] is writable");
                linear[t]++;
                linear[target]--;
                holdsLinear[t] = true;
                isLinearTarget[target] = true;
            }
            else if ((int)tf.Type != (int)f.Type - 1)
            {
                scan.Violations.Add($"{f.Type} {t}[{i}] points to a frame of type {tf.Type}");
            }
            if (!tf.IsValidated) scan.Violations.Add($"{f.Type} {t}[{i}] points to unvalidated frame {target}");
            refs[target]++;
            types[target]++;
        }
        if (f.Type != PageType.L4) return;
        for (int i = EntryRules.FirstHypervisorSlot + 1; i <= EntryRules.LastHypervisorSlot; i++)
        {
            if (entries[i] != m.Template[i - EntryRules.FirstHypervisorSlot]) scan.Violations.Add($"L4 {t} slot {i} is not the hypervisor's");
        }
        ulong m2p = entries[EntryRules.ReadOnlyM2pSlot];
        if (m2p != m.Template[0] && m2p != 0) scan.Violations.Add($"L4 {t} slot 256 is neither the M2P nor empty");
    }

    private static void CompareCounts(PagingMachine m, PagingScan scan, long[] refs, long[] types, long[] linear,
                                      bool[] holdsLinear, bool[] isLinearTarget)
    {
        var owned = new Dictionary<ushort, uint>();
        for (ulong mfn = 0; mfn < (ulong)m.FrameCount; mfn++)
        {
            FrameInfo f = m.Frames[mfn];
            if (f.ReferenceCount != refs[mfn]) scan.Violations.Add($"frame {mfn}: {f.ReferenceCount} references, {refs[mfn]} exist");
            if (f.TypeCount != types[mfn]) scan.Violations.Add($"frame {mfn}: type count {f.TypeCount}, {types[mfn]} type references exist");
            if (f.LinearCount != linear[mfn]) scan.Violations.Add($"frame {mfn}: linear count {f.LinearCount}, {linear[mfn]} exist");
            if (holdsLinear[mfn] && isLinearTarget[mfn]) scan.Violations.Add($"frame {mfn} both holds and is the target of linear entries");
            bool free = f.Owner == DomainIds.Invalid;
            if (free && (f.ReferenceCount != 0 || f.Type != PageType.None)) scan.Violations.Add($"free frame {mfn} is in use");
            if (m.Frames.IsDomain(f.Owner) && f.ReferenceCount == 0) scan.Violations.Add($"frame {mfn} of d{f.Owner} has no reference");
            if (free != m.Allocator.IsFree(mfn * 4096)) scan.Violations.Add($"frame {mfn}: free in the table {free}, in the allocator {!free}");
            if (m.Frames.IsDomain(f.Owner)) owned[f.Owner] = owned.GetValueOrDefault(f.Owner) + 1;
        }
        for (ushort d = 0; m.Frames.IsDomain(d); d++)
        {
            if (m.Frames.OwnedFrames(d) != owned.GetValueOrDefault(d)) scan.Violations.Add($"d{d} owns {owned.GetValueOrDefault(d)} frames, the table says {m.Frames.OwnedFrames(d)}");
            if (m.Frames.OwnedFrames(d) > m.Frames.QuotaOf(d)) scan.Violations.Add($"d{d} is over its quota");
        }
    }

    public static void AssertHolds(PagingMachine m, IEnumerable<VcpuTables> vcpus, TestIo? io = null)
    {
        var scan = Scan(m, vcpus, io ?? TestIo.None);
        Assert.True(scan.Violations.Count == 0, string.Join("\n", scan.Violations));
    }
}
