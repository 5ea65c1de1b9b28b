using System;
using Keel.Ringlib.Protocols;

namespace Keel.Guests.Control.Store;

/// <summary>What the control domain knows of a domain it builds, for <see cref="StoreSeeder.SeedDomain"/>.</summary>
public struct StoreDomainSeed
{
    public uint Domid;
    public ulong TargetKiB;
    public ulong MaxKiB;
    public uint Vcpus;
    public ulong StoreMfn;
    public uint StorePort;

    /// <summary>0 when the domain has no console page.</summary>
    public ulong ConsoleMfn;
    public uint ConsolePort;
}

/// <summary>
/// Writes the nodes Xen's toolstack writes for a new domain, with libxl's permissions
/// (tools/libs/light/libxl_create.c libxl__domain_make, libxl_dom.c libxl__build_post): the domain's
/// directory and the nodes in it are the toolstack's with read for the domain ("roperm": n0 r&lt;id&gt;),
/// except the ones the domain itself writes, which it owns with no access for others ("rwperm": n&lt;id&gt;).
/// </summary>
public static partial class StoreSeeder
{
    /// <summary>Seeds /local/domain/&lt;id&gt; and /vm/&lt;id&gt; (libxl names /vm by uuid; the id serves here).
    /// Returns the first error, or None.</summary>
    public static StoreError SeedDomain(StoreServer store, in StoreDomainSeed seed, ReadOnlySpan<byte> name)
    {
        Span<byte> path = stackalloc byte[96];
        Span<byte> number = stackalloc byte[24];
        Span<byte> roperm = stackalloc byte[16];
        Span<byte> rwperm = stackalloc byte[16];
        Span<byte> vmPath = stackalloc byte[16];
        uint id = seed.Domid;
        int roLength = Entry(roperm, 0, (byte)'n', store.PrivilegedDomain);
        roLength = Entry(roperm, roLength, (byte)'r', id);
        int rwLength = Entry(rwperm, 0, (byte)'n', id);
        ReadOnlySpan<byte> ro = roperm.Slice(0, roLength);
        ReadOnlySpan<byte> rw = rwperm.Slice(0, rwLength);
        int vmLength = Join(vmPath, "/vm/"u8, id, default);

        int domain = StorePath.DomainPath(id, path);
        ReadOnlySpan<byte> home = path.Slice(0, domain);
        Span<byte> scratch = stackalloc byte[96];
        StoreError error = Directory(store, home, ro);
        error = Then(error, Directory(store, vmPath.Slice(0, vmLength), ro));
        error = Then(error, Write(store, scratch, vmPath.Slice(0, vmLength), "/name"u8, name));
        error = Then(error, Write(store, scratch, home, "/vm"u8, vmPath.Slice(0, vmLength)));
        error = Then(error, Write(store, scratch, home, "/name"u8, name));
        error = Then(error, Write(store, scratch, home, "/domid"u8, Number(number, id)));
        error = Then(error, Node(store, scratch, home, "/cpu"u8, ro));
        for (uint cpu = 0; cpu < seed.Vcpus && error == StoreError.None; cpu++)
        {
            int length = Join(scratch, home, cpu, "/availability"u8, "/cpu/"u8);
            error = store.Write(scratch.Slice(0, length), "online"u8);
        }

        error = Then(error, Node(store, scratch, home, "/memory"u8, ro));
        error = Then(error, Write(store, scratch, home, "/memory/static-max"u8, Number(number, seed.MaxKiB)));
        error = Then(error, Write(store, scratch, home, "/memory/target"u8, Number(number, seed.TargetKiB)));
        // libxl's default (xend_suspend_evtchn_compat off): device/ is read-only to the domain, front-end
        // directories below it are made per device by the toolstack.
        error = Then(error, Node(store, scratch, home, "/device"u8, ro));
        error = Then(error, Node(store, scratch, home, "/device/suspend/event-channel"u8, rw));
        error = Then(error, Node(store, scratch, home, "/control"u8, ro));
        error = Then(error, Node(store, scratch, home, "/control/shutdown"u8, rw));
        error = Then(error, Node(store, scratch, home, "/control/feature-poweroff"u8, rw));
        error = Then(error, Node(store, scratch, home, "/control/feature-reboot"u8, rw));
        error = Then(error, Node(store, scratch, home, "/control/feature-suspend"u8, rw));
        error = Then(error, Node(store, scratch, home, "/control/sysrq"u8, rw));
        error = Then(error, Write(store, scratch, home, "/control/platform-feature-multiprocessor-suspend"u8, "1"u8));
        error = Then(error, Write(store, scratch, home, "/control/platform-feature-xs_reset_watches"u8, "1"u8));
        error = Then(error, Node(store, scratch, home, "/data"u8, rw));
        error = Then(error, Node(store, scratch, home, "/drivers"u8, rw));
        error = Then(error, Node(store, scratch, home, "/feature"u8, rw));
        error = Then(error, Node(store, scratch, home, "/attr"u8, rw));
        error = Then(error, Node(store, scratch, home, "/error"u8, rw));
        error = Then(error, Write(store, scratch, home, "/store/port"u8, Number(number, seed.StorePort)));
        error = Then(error, Write(store, scratch, home, "/store/ring-ref"u8, Number(number, seed.StoreMfn)));
        if (seed.ConsoleMfn != 0)
        {
            error = Then(error, Write(store, scratch, home, "/console/port"u8, Number(number, seed.ConsolePort)));
            error = Then(error, Write(store, scratch, home, "/console/ring-ref"u8, Number(number, seed.ConsoleMfn)));
        }

        return error;
    }

    /// <summary>The control domain's own nodes (tools/helpers/xen-init-dom0.c): /local/domain/&lt;id&gt;/name and
    /// domid, owned by it.</summary>
    public static StoreError SeedControlDomain(StoreServer store, ReadOnlySpan<byte> name)
    {
        Span<byte> path = stackalloc byte[32];
        Span<byte> scratch = stackalloc byte[64];
        Span<byte> number = stackalloc byte[24];
        int length = StorePath.DomainPath(store.PrivilegedDomain, path);
        ReadOnlySpan<byte> home = path.Slice(0, length);
        StoreError error = store.MakeDirectory(home);
        error = Then(error, Write(store, scratch, home, "/name"u8, name));
        return Then(error, Write(store, scratch, home, "/domid"u8, Number(number, store.PrivilegedDomain)));
    }

    private static StoreError Then(StoreError first, StoreError next) => first != StoreError.None ? first : next;

    private static int Entry(Span<byte> perms, int at, byte letter, uint domid)
    {
        perms[at++] = letter;
        at += DecimalText.Write(domid, perms.Slice(at));
        perms[at++] = 0;
        return at;
    }

    private static ReadOnlySpan<byte> Number(Span<byte> destination, ulong value)
        => destination.Slice(0, DecimalText.Write(value, destination));

    private static int Join(Span<byte> destination, ReadOnlySpan<byte> prefix, ulong value, ReadOnlySpan<byte> suffix)
    {
        prefix.CopyTo(destination);
        int length = prefix.Length + DecimalText.Write(value, destination.Slice(prefix.Length));
        suffix.CopyTo(destination.Slice(length));
        return length + suffix.Length;
    }

    private static int Join(Span<byte> destination, ReadOnlySpan<byte> home, ulong value, ReadOnlySpan<byte> suffix, ReadOnlySpan<byte> middle)
    {
        home.CopyTo(destination);
        return home.Length + Join(destination.Slice(home.Length), middle, value, suffix);
    }

    private static StoreError Directory(StoreServer store, ReadOnlySpan<byte> path, ReadOnlySpan<byte> perms)
    {
        StoreError error = store.MakeDirectory(path);
        return Then(error, store.SetPermissions(path, perms));
    }

    private static StoreError Node(StoreServer store, Span<byte> scratch, ReadOnlySpan<byte> home, ReadOnlySpan<byte> relative, ReadOnlySpan<byte> perms)
    {
        home.CopyTo(scratch);
        relative.CopyTo(scratch.Slice(home.Length));
        return Directory(store, scratch.Slice(0, home.Length + relative.Length), perms);
    }

    private static StoreError Write(StoreServer store, Span<byte> scratch, ReadOnlySpan<byte> home, ReadOnlySpan<byte> relative, ReadOnlySpan<byte> value)
    {
        home.CopyTo(scratch);
        relative.CopyTo(scratch.Slice(home.Length));
        return store.Write(scratch.Slice(0, home.Length + relative.Length), value);
    }
}
