package flinkop.jobs;

import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The sandbox's state job ({@code flinkop-state-job.jar}): counts records per key in keyed ValueState.
 *
 * <p>Record {@code i} of the sequence belongs to key {@code i % keys}. Every update prints
 * {@code flinkop-state key=<k> count=<n> job=<name> subtask=<s>}; after a restore from a savepoint the counts
 * continue from their saved values, which is what upgrade tests check.
 *
 * <p>Options: {@code --keys 10 --rate 5 --print-every 1 --job-name flinkop-state-job
 * --checkpoint-interval <ms> --parallelism <n>}.
 */
public final class KeyedCounterJob {
    public static final String NAME = "flinkop-state-job";

    private KeyedCounterJob() {}

    public static void main(String[] argv) throws Exception {
        JobArgs args = JobArgs.parse(argv, SandboxJobs.COMMON_OPTIONS);
        int keys = Math.max(1, args.getInt("keys", 10));
        StateReporter reporter = new StateReporter(args, NAME);
        StreamExecutionEnvironment env = SandboxJobs.environment(args);
        SandboxJobs.discard(SandboxJobs.sequence(env, args)
                .keyBy(value -> (int) (value % keys), Types.INT)
                .process(new CountPerKey(reporter))
                .uid("flinkop-keyed-counter")
                .name("flinkop-keyed-counter"));
        env.execute(reporter.jobName());
    }

    /** Keyed state: {@code count} = how many records of this key were seen. */
    static final class CountPerKey extends KeyedProcessFunction<Integer, Long, Long> {
        private static final long serialVersionUID = 1L;
        private final StateReporter reporter;
        private transient ValueState<Long> count;

        CountPerKey(StateReporter reporter) {
            this.reporter = reporter;
        }

        @Override
        public void open(OpenContext context) {
            count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            reporter.open(getRuntimeContext());
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<Long> out) throws Exception {
            Long previous = count.value();
            long next = (previous == null ? 0L : previous) + 1;
            count.update(next);
            reporter.report(ctx.getCurrentKey(), next, "");
            out.collect(next);
        }
    }
}
