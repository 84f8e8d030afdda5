# ruby stack: read the payload, report progress, write a result.
require "json"

def progress(percent, msg)
  File.write(ENV["PROGRESS_FILE"], JSON.generate({ percent: percent, msg: msg }))
end

payload = JSON.parse(File.read(ENV["PAYLOAD_FILE"]))
progress(50, "halfway")
puts "ruby worker got: #{JSON.generate(payload)}"
progress(100, "done")
File.write(ENV["RESULT_FILE"], JSON.generate({ stack: "ruby", payload: payload }))
