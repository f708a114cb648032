package org.apache.flink.streaming.examples.statemachine;

import flinkop.jobs.JobArgs;
import flinkop.jobs.SandboxJobs;
import flinkop.jobs.StateReporter;
import org.apache.flink.api.common.functions.OpenContext;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.streaming.api.functions.KeyedProcessFunction;
import org.apache.flink.util.Collector;

/**
 * The sandbox's own job behind {@code examples/streaming/StateMachineExample.jar}.
 *
 * <p>It is not upstream's example; it only keeps its jar path and main class so deployments written for the
 * upstream image run unchanged. Each key is a machine that walks a fixed cycle of states
 * (CREATED, RUNNING, PAUSED, RUNNING, FINISHED, CREATED, ...), one transition per record. The current state and
 * the number of transitions are keyed ValueState; every transition prints
 * {@code flinkop-state key=<machine> count=<transitions> state=<state> ...}.
 *
 * <p>Options: {@code --keys 10 --rate 5 --print-every 1 --job-name StateMachineExample}; upstream's own
 * options (e.g. {@code --error-rate}) are accepted and ignored.
 */
public final class StateMachineExample {
    private static final String[] CYCLE = {"CREATED", "RUNNING", "PAUSED", "RUNNING", "FINISHED"};

    private StateMachineExample() {}

    public static void main(String[] argv) throws Exception {
        JobArgs args = JobArgs.parse(argv, SandboxJobs.COMMON_OPTIONS);
        int machines = Math.max(1, args.getInt("keys", 10));
        StateReporter reporter = new StateReporter(args, "StateMachineExample");
        StreamExecutionEnvironment env = SandboxJobs.environment(args);
        SandboxJobs.discard(SandboxJobs.sequence(env, args)
                .keyBy(value -> (int) (value % machines), Types.INT)
                .process(new Machine(reporter))
                .uid("flinkop-state-machine")
                .name("flinkop-state-machine"));
        env.execute(reporter.jobName());
    }

    /** One state machine per key. */
    static final class Machine extends KeyedProcessFunction<Integer, Long, String> {
        private static final long serialVersionUID = 1L;
        private final StateReporter reporter;
        private transient ValueState<Integer> position;
        private transient ValueState<Long> transitions;

        Machine(StateReporter reporter) {
            this.reporter = reporter;
        }

        @Override
        public void open(OpenContext context) {
            position = getRuntimeContext().getState(new ValueStateDescriptor<>("position", Types.INT));
            transitions = getRuntimeContext().getState(new ValueStateDescriptor<>("transitions", Types.LONG));
            reporter.open(getRuntimeContext());
        }

        @Override
        public void processElement(Long value, Context ctx, Collector<String> out) throws Exception {
            Integer current = position.value();
            int next = current == null ? 0 : (current + 1) % CYCLE.length;
            Long seen = transitions.value();
            long count = (seen == null ? 0L : seen) + 1;
            position.update(next);
            transitions.update(count);
            reporter.report(ctx.getCurrentKey(), count, "state=" + CYCLE[next]);
            out.collect(CYCLE[next]);
        }
    }
}
