using System;

namespace Keel.Kernel.Boot
{
    /// <summary>The kernel command line: space-separated "name" or "name=value" options.</summary>
    public static class CommandLine
    {
        /// <summary>The value of the first "name=value" option; a bare "name" has the value "".</summary>
        public static bool TryGet(string commandLine, string name, out string value)
        {
            value = null;
            int i = 0;
            while (i < commandLine.Length)
            {
                while (i < commandLine.Length && commandLine[i] == ' ') i++;
                int start = i;
                while (i < commandLine.Length && commandLine[i] != ' ') i++;
                if (i == start) break;
                string option = commandLine.Substring(start, i - start);
                if (option == name)
                {
                    value = "";
                    return true;
                }
                if (option.Length > name.Length && option[name.Length] == '=' && option.StartsWith(name))
                {
                    value = option.Substring(name.Length + 1);
                    return true;
                }
            }
            return false;
        }

        /// <summary>A size in MiB written as decimal digits with an optional "M" (as Xen's dom0_mem=512M); 1 to 2^20.</summary>
        public static bool TryParseMebibytes(string text, out ulong mebibytes)
        {
            mebibytes = 0;
            int length = text.Length > 0 && (text[text.Length - 1] == 'M' || text[text.Length - 1] == 'm') ? text.Length - 1 : text.Length;
            if (length == 0 || length > 7) return false;
            for (int i = 0; i < length; i++)
            {
                if (text[i] < '0' || text[i] > '9') return false;
                mebibytes = mebibytes * 10 + (ulong)(text[i] - '0');
            }
            return mebibytes >= 1 && mebibytes <= 1 << 20;
        }
    }
}
