// A thermostat that is its own MQTT broker: devices and apps talk MQTT to it over TCP, and the application's
// logic talks to the same broker in-process, with no MQTT bytes in between.
//
//   dotnet run --project samples/Kirisame.Sample.Embedded -- --Port 1883
//   mosquitto_sub -t thermostat/target            # 20, retained
//   mosquitto_pub -t thermostat/set -m 22 -q 1    # the thermostat takes it and re-publishes its target
using Kirisame.Sample.Embedded;
using Kirisame.Transport.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

var builder = Host.CreateApplicationBuilder(args);
builder.Services.AddKirisame(kirisame =>
{
    kirisame.Transport.Port = builder.Configuration.GetValue("Port", 1883); // 0: the system chooses (it is logged)
});
builder.Services.AddHostedService<Thermostat>();
await builder.Build().RunAsync();
