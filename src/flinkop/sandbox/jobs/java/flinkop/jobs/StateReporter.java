package flinkop.jobs;

import java.io.Serializable;
import org.apache.flink.api.common.functions.RuntimeContext;
import org.apache.flink.metrics.Counter;

/**
 * Makes keyed state visible outside the job.
 *
 * <p>Each reported update is one stdout line of the TaskManager, {@code flinkop-state key=<k> count=<n> ...},
 * which shows up in {@code kubectl logs} and in the REST {@code /taskmanagers/<id>/stdout}. The operator also
 * exposes two metrics: the counter {@code flinkopStateUpdates} and the gauge {@code flinkopLastCount}.
 */
public final class StateReporter implements Serializable {
    private static final long serialVersionUID = 1L;

    private final String jobName;
    private final long printEvery;
    private transient int subtask;
    private transient Counter updates;
    private transient volatile long lastCount;

    public StateReporter(JobArgs args, String defaultJobName) {
        this.jobName = args.get("job-name", defaultJobName);
        this.printEvery = Math.max(1, args.getLong("print-every", 1));
    }

    public String jobName() {
        return jobName;
    }

    /** Call from the function's open(). */
    public void open(RuntimeContext context) {
        subtask = subtaskIndex(context);
        updates = context.getMetricGroup().counter("flinkopStateUpdates");
        context.getMetricGroup().gauge("flinkopLastCount", () -> lastCount);
    }

    /** Reports that {@code key} has now been updated {@code count} times; {@code extra} is appended. */
    public void report(Object key, long count, String extra) {
        updates.inc();
        lastCount = count;
        if (count % printEvery == 0) {
            String tail = extra.isEmpty() ? "" : " " + extra;
            System.out.println("flinkop-state key=" + key + " count=" + count + tail
                    + " job=" + jobName + " subtask=" + subtask);
        }
    }

    // getIndexOfThisSubtask() moved to getTaskInfo() in 2.x; 1.20 has both, 2.x only the latter.
    private static int subtaskIndex(RuntimeContext context) {
        return context.getTaskInfo().getIndexOfThisSubtask();
    }
}
