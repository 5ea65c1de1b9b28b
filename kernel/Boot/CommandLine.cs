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
    }
}
