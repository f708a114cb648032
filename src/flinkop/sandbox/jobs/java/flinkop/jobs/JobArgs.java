package flinkop.jobs;

import java.util.HashMap;
import java.util.Map;

/**
 * Program arguments of the sandbox jobs: {@code --name value} pairs.
 *
 * <p>Unknown names are reported and ignored rather than rejected, so that a deployment written for the
 * upstream example jobs (which take other options) still starts.
 */
public final class JobArgs {
    private final Map<String, String> values = new HashMap<>();

    private JobArgs() {}

    public static JobArgs parse(String[] args, String... known) {
        JobArgs parsed = new JobArgs();
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            if (!arg.startsWith("--")) {
                System.out.println("flinkop-jobs: ignoring stray argument " + arg);
                continue;
            }
            String name = arg.substring(2);
            String value = "true";
            int eq = name.indexOf('=');
            if (eq >= 0) {
                value = name.substring(eq + 1);
                name = name.substring(0, eq);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            }
            if (!isKnown(name, known)) {
                System.out.println("flinkop-jobs: ignoring unknown option --" + name);
                continue;
            }
            parsed.values.put(name, value);
        }
        return parsed;
    }

    private static boolean isKnown(String name, String[] known) {
        for (String k : known) {
            if (k.equals(name)) {
                return true;
            }
        }
        return false;
    }

    public String get(String name, String fallback) {
        return values.getOrDefault(name, fallback);
    }

    public int getInt(String name, int fallback) {
        return values.containsKey(name) ? Integer.parseInt(values.get(name)) : fallback;
    }

    public long getLong(String name, long fallback) {
        return values.containsKey(name) ? Long.parseLong(values.get(name)) : fallback;
    }

    public double getDouble(String name, double fallback) {
        return values.containsKey(name) ? Double.parseDouble(values.get(name)) : fallback;
    }
}
