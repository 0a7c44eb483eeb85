import de.bwaldvogel.mongo.MongoBackend;
import de.bwaldvogel.mongo.MongoServer;
import de.bwaldvogel.mongo.MongoVersion;
import de.bwaldvogel.mongo.backend.h2.H2Backend;
import de.bwaldvogel.mongo.backend.memory.MemoryBackend;
import de.bwaldvogel.mongo.bson.Document;
import io.netty.channel.Channel;

import java.util.List;
import java.util.concurrent.CountDownLatch;

/**
 * A MongoDB-wire server for the integration tests (see infra/mongo.sh and
 * infra/README.md): de.bwaldvogel:mongo-java-server with two small fixes.
 *
 * Usage: PromptoptMongoServer HOST PORT (memory | h2:FILE)
 *
 * "h2:FILE" keeps the data in an H2 MVStore file across restarts; "memory"
 * forgets everything on stop.
 */
public final class PromptoptMongoServer {

    /**
     * The library's ServerVersion.MONGO_5_0 reports wire version 8 (MongoDB 4.2),
     * which pymongo >= 4.14 refuses ("requires at least 9"). Report 5.0 with
     * its real wire version, 13.
     */
    static final MongoVersion MONGO_5_0 = new MongoVersion() {
        @Override
        public List<Integer> getVersionArray() {
            return List.of(5, 0, 0);
        }

        @Override
        public int getWireVersion() {
            return 13;
        }
    };

    /** Applied to every command's reply (both backends). */
    static Document fixReply(String command, Document query, Document reply) {
        // The library answers "insert" with n = number of documents sent, even
        // when some failed (e.g. duplicate keys): pymongo's BulkWriteError
        // then has a wrong nInserted. Count what was really inserted.
        if (command.equalsIgnoreCase("insert") && reply != null && reply.get("writeErrors") instanceof List<?> errors
                && !errors.isEmpty() && query.get("documents") instanceof List<?> docs) {
            boolean ordered = !Boolean.FALSE.equals(query.get("ordered"));
            int n;
            if (ordered) {
                int first = docs.size();
                for (Object e : errors) {
                    if (e instanceof Document d && d.get("index") instanceof Number i) {
                        first = Math.min(first, i.intValue());
                    }
                }
                n = first;
            } else {
                n = Math.max(0, docs.size() - errors.size());
            }
            reply.put("n", n);
        }
        return reply;
    }

    /** "hello" (MongoDB >= 4.4 spelling of "isMaster") is not implemented by the library. */
    static String fixCommand(String command) {
        return command.equalsIgnoreCase("hello") ? "isMaster" : command;
    }

    static Document helloReply(String command, Document reply) {
        if (command.equalsIgnoreCase("hello") && reply != null && reply.containsKey("ismaster")) {
            reply.put("isWritablePrimary", reply.remove("ismaster"));
        }
        return reply;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) {
            System.err.println("usage: PromptoptMongoServer HOST PORT (memory | h2:FILE)");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String store = args[2];

        MongoBackend backend;
        if (store.equals("memory")) {
            backend = new MemoryBackend() {
                @Override
                public Document handleCommand(Channel channel, String db, String command, Document query) {
                    return helloReply(command, fixReply(command, query,
                        super.handleCommand(channel, db, fixCommand(command), query)));
                }
            };
        } else if (store.startsWith("h2:")) {
            backend = new H2Backend(store.substring(3)) {
                @Override
                public Document handleCommand(Channel channel, String db, String command, Document query) {
                    return helloReply(command, fixReply(command, query,
                        super.handleCommand(channel, db, fixCommand(command), query)));
                }
            };
        } else {
            throw new IllegalArgumentException("unknown store: " + store);
        }
        backend.version(MONGO_5_0);

        MongoServer server = new MongoServer(backend);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("shutting down");
            server.shutdown();  // also closes the backend (H2 commits and closes its file)
            stopped.countDown();
        }, "shutdown"));
        server.bind(host, port);
        System.out.println("mongo-java-server listening on " + host + ":" + port + " (" + store + ")");
        System.out.flush();
        stopped.await();
    }
}
