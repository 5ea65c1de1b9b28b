using System;
using Keel.Runtime;

namespace Keel.Freestanding.Probe
{
    /// <summary>The control domain's manifest reader as a domain runs it: ILC's code over the core library.</summary>
    internal static class ManifestChecks
    {
        internal static void Run()
        {
            ReadOnlySpan<byte> good =
                "keel-manifest 2\nsystem exit_when_done=1\n"u8 +
                "domain name=hello module=1 upgrade_module=0 memory=16 weight=256 warp=0 warp_limit=0 unwarp=0 on_crash=destroy on_poweroff=destroy cmdline=hello%20world\n"u8 +
                "domain cmdline=100%25 on_poweroff=destroy on_crash=restart unwarp=20 warp_limit=5 warp=10 weight=512 memory=32 upgrade_module=3 module=2 name=second\n"u8 +
                "pci domain=second sbdf=32\npci domain=second sbdf=40\n"u8 +
                "disk domain=hello backend=second vdev=xvdb access=ro target=1 start=2048 sectors=1099511625728\n"u8 +
                "end domains=2 pci=2 disks=1\n"u8;
            ManifestError error = Manifest.TryRead(good, out Manifest manifest);
            bool read = !error.IsError && manifest.ExitWhenDone && manifest.Domains.Length == 2 && manifest.PciDevices.Length == 2 && manifest.Disks.Length == 1;
            if (read)
            {
                ManifestDomain first = manifest.Domains[0], second = manifest.Domains[1];
                ManifestDisk disk = manifest.Disks[0];
                read = first.Name == "hello" && first.Module == 1 && first.MemoryMiB == 16 && first.CommandLine == "hello world" &&
                       second.Name == "second" && second.Module == 2 && second.UpgradeModule == 3 && second.Weight == 512 && second.WarpMs == 10 &&
                       second.WarpLimitMs == 5 && second.UnwarpMs == 20 && second.OnCrash == DomainAction.Restart && second.CommandLine == "100%" &&
                       second.FirstPci == 0 && second.PciCount == 2 && manifest.PciDevices[1].Sbdf == 40 && manifest.PciDevices[1].Domain == 1 &&
                       first.FirstDisk == 0 && first.DiskCount == 1 && disk.Domain == 0 && disk.Backend == 1 && disk.Vdev == 1 && !disk.Writable &&
                       disk.Target == 1 && disk.StartSector == 2048 && disk.Sectors == 1099511625728;
            }
            Program.Check("the manifest reader reads a module the image tool wrote", read);
            Program.Check("the manifest reader refuses damaged modules and names their line", Damaged(good));
        }

        /// <summary>Every truncation and many single-byte changes of a good module: none may throw (a throw
        /// would end the probe), every truncation is refused, and every refusal names a line.</summary>
        private static bool Damaged(ReadOnlySpan<byte> good)
        {
            bool ok = true;
            for (int length = 0; length < good.Length; length++)
            {
                ManifestError error = Manifest.TryRead(good.Slice(0, length), out Manifest manifest);
                ok &= error.IsError && error.Line >= 1 && manifest == null;
            }
            byte[] copy = good.ToArray();
            ReadOnlySpan<byte> replacements = "\0\n =%09az\x7F"u8;
            for (int at = 0; at < copy.Length; at++)
            {
                byte original = copy[at];
                for (int r = 0; r < replacements.Length; r++)
                {
                    copy[at] = replacements[r];
                    ManifestError error = Manifest.TryRead(copy, out Manifest manifest);
                    ok &= error.IsError ? error.Line >= 1 && manifest == null : manifest != null;
                }
                copy[at] = original;
            }
            return ok;
        }
    }
}
