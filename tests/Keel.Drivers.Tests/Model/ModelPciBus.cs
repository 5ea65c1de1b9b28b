using System.Collections.Generic;
using Keel.Drivers.Pci;

namespace Keel.Drivers.Tests.Model;

/// <summary>
/// The model machine's configuration space: functions placed at addresses, everything else absent
/// (reads all ones, as a master abort does), and addresses the domain may not touch (every access fails,
/// as the kernel refuses a function that was not given to the domain).
/// </summary>
public sealed class ModelPciBus : PciConfigSpace
{
    private readonly Dictionary<uint, ModelPciFunction> _functions = new();
    private readonly HashSet<uint> _refused = new();

    public void Add(PciAddress address, ModelPciFunction function) => _functions[address.MachineSbdf] = function;

    public void Refuse(PciAddress address) => _refused.Add(address.MachineSbdf);

    public static PciAddress At(byte bus, int device, int function)
    {
        PciAddress.TryCreate(0, bus, device, function, out PciAddress address);
        return address;
    }

    public override bool TryRead(PciAddress address, int offset, int width, out uint value)
    {
        value = 0;
        if (!IsValid(offset, width) || _refused.Contains(address.MachineSbdf))
        {
            return false;
        }

        value = _functions.TryGetValue(address.MachineSbdf, out ModelPciFunction function)
            ? function.Read(offset, width)
            : width == 4 ? 0xFFFFFFFF : (1u << (8 * width)) - 1;
        return true;
    }

    public override bool TryWrite(PciAddress address, int offset, int width, uint value)
    {
        if (!IsValid(offset, width) || _refused.Contains(address.MachineSbdf))
        {
            return false;
        }

        return !_functions.TryGetValue(address.MachineSbdf, out ModelPciFunction function) || function.Write(offset, width, value);
    }

    private static bool IsValid(int offset, int width) =>
        (width == 1 || width == 2 || width == 4) && offset >= 0 && offset + width <= PciHeader.Size && offset % width == 0;
}
